using CanaryFlow.Controller.Hosting;

NativeHeap.LimitArenas(); // before the host starts its threads: arenas made before this stay
var builder = WebApplication.CreateBuilder(args);
builder.AddCanaryFlowController();
return builder.Build().RunCanaryFlowController();
