using CanaryFlow.Controller.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddCanaryFlowController();
return builder.Build().RunCanaryFlowController();
