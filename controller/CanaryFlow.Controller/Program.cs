using CanaryFlow.Controller.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddCanaryFlowController();

var app = builder.Build();
app.MapCanaryFlowController();
app.Run();
