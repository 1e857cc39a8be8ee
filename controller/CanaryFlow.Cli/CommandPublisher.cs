using System.Net.Sockets;
using MassTransit;

namespace CanaryFlow.Cli;

/// <summary>
/// Publishes one contract command on the controller's RabbitMQ bus with MassTransit (the same message
/// types and exchanges as the controller), waiting for the broker's publisher confirm.
/// </summary>
public static class CommandPublisher
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(20);

    /// <exception cref="CliException">With <see cref="ExitCodes.Unreachable"/> when the broker cannot be reached or refuses us.</exception>
    public static async Task PublishAsync(Uri rabbitMq, object message, CancellationToken cancellationToken)
    {
        var host = rabbitMq.Host;
        var tls = rabbitMq.Scheme == "amqps";
        var port = rabbitMq.IsDefaultPort || rabbitMq.Port <= 0 ? (tls ? 5671 : 5672) : rabbitMq.Port;
        var vhost = Uri.UnescapeDataString(rabbitMq.AbsolutePath.TrimStart('/')) is { Length: > 0 } v ? v : "/";
        var userInfo = rabbitMq.UserInfo.Split(':', 2);
        var user = userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : "guest";
        var password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "guest";
        var where = $"{host}:{port} (vhost {vhost})";

        // A wrong host or a stopped broker fails here in seconds, rather than in MassTransit's reconnect loop.
        using (var tcp = new TcpClient())
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            connect.CancelAfter(ConnectTimeout);
            try { await tcp.ConnectAsync(host, port, connect.Token); }
            catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new CliException(ExitCodes.Unreachable, $"Cannot reach RabbitMQ at {where}: {(e is SocketException s ? s.SocketErrorCode.ToString() : "no answer within " + ConnectTimeout.TotalSeconds + " s")}.");
            }
        }

        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(host, (ushort)port, vhost, h =>
            {
                h.Username(user);
                h.Password(password);
                h.RequestedConnectionTimeout(ConnectTimeout);
                if (tls) h.UseSsl(_ => { });
            });
        });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PublishTimeout);
        try
        {
            await bus.StartAsync(timeout.Token);
            await bus.Publish(message, message.GetType(), timeout.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not CliException)
        {
            // The password is never echoed: the message names host, port and vhost only.
            throw new CliException(ExitCodes.Unreachable, $"RabbitMQ at {where} did not take the message (credentials, vhost or broker state?): {e.GetBaseException().Message}");
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await bus.StopAsync(stop.Token); } catch (OperationCanceledException) { }
        }
    }
}
