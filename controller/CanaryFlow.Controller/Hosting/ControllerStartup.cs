using CanaryFlow.Controller.Kubernetes.Api;
using k8s;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Hosting;

/// <summary>
/// Runs the controller process. Settings it cannot use stop it before anything starts, with one line on
/// standard error and exit code 2: never a prompt, never a stack trace (a pod's log shows the line; its
/// restart count shows the rest).
/// </summary>
public static class ControllerStartup
{
    public const int ConfigurationError = 2;

    /// <summary>Checks the settings, maps the endpoints and runs until stopped; returns the exit code.</summary>
    public static int RunCanaryFlowController(this WebApplication app)
    {
        if (RuntimeEnvironment.NotInEffect() is { Count: > 0 } missing)
            app.Logger.LogWarning("Running without runtime settings the manifests give the controller ({Settings}): it will use more memory "
                + "than documented. Set them in its environment (README, Runtime settings).", string.Join(", ", missing));
        try
        {
            // Build the Kubernetes client first: mapping the endpoints already builds the bus, whose saga needs it.
            app.Services.GetService<IKubernetes>();
        }
        catch (Exception e) when (e is KubernetesConfigurationException or OptionsValidationException)
        {
            Console.Error.WriteLine($"canaryflow: {OneLine(e.Message)}");
            ((IDisposable)app).Dispose(); // flushes the log written so far
            return ConfigurationError;
        }
        app.MapCanaryFlowController();
        app.Run();
        return 0;
    }

    private static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
}
