using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Web;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddCanaryFlowEngine(builder.Configuration);

var app = builder.Build();
app.MapRolloutsApi();
app.Run();
