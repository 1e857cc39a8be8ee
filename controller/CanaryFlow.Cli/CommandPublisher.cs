using System.Net.Sockets;
using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Cli;

/// <summary>
/// Publishes one contract command on the controller's RabbitMQ bus with MassTransit (the same message
/// types and exchanges as the controller), waiting for the broker's publisher confirm. Asked to, it first
/// asks the leading controller over the same connection whether the target has a rollout.
/// </summary>
public static class CommandPublisher
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(20);

    /// <param name="askFirst">A target whose rollout must exist before anything is published.</param>
    /// <param name="answerTimeout">How long the controller has to answer that question.</param>
    /// <exception cref="CliException">With <see cref="ExitCodes.Unreachable"/> when the broker cannot be reached or refuses us, or no
    /// controller answers; <see cref="ExitCodes.NotFound"/> when the controller has no rollout for <paramref name="askFirst"/>.</exception>
    public static async Task PublishAsync(Uri rabbitMq, object message, RolloutTarget? askFirst, TimeSpan answerTimeout, CancellationToken cancellationToken)
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
        timeout.CancelAfter(PublishTimeout + (askFirst is null ? TimeSpan.Zero : answerTimeout));
        try
        {
            await bus.StartAsync(timeout.Token);
            if (askFirst is not null) await EnsureRolloutExistsAsync(bus, askFirst, answerTimeout, where, timeout.Token);
            await bus.Publish(message, message.GetType(), timeout.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not (CliException or RequestTimeoutException))
        {
            // The password is never echoed: the message names host, port and vhost only.
            throw new CliException(ExitCodes.Unreachable, $"RabbitMQ at {where} did not take the message (credentials, vhost or broker state?): {e.GetBaseException().Message}");
        }
        catch (RequestTimeoutException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Unreachable, $"No CanaryFlow controller answered on RabbitMQ at {where} within {answerTimeout.TotalSeconds:0.#} s, " +
                "so nothing was published. Is the controller running (and leading) on this broker and vhost? (--controller URL asks over HTTP instead.)");
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await bus.StopAsync(stop.Token); } catch (OperationCanceledException) { }
        }
    }

    // A command for a target without a rollout is discarded by the saga: say so (exit 3) instead of "published".
    private static async Task EnsureRolloutExistsAsync(IBus bus, RolloutTarget target, TimeSpan answerTimeout, string where, CancellationToken cancellationToken)
    {
        var client = bus.CreateRequestClient<GetRolloutStatus>(RequestTimeout.After(ms: (int)answerTimeout.TotalMilliseconds));
        var answer = await client.GetResponse<RolloutStatusView, RolloutNotFound>(new GetRolloutStatus(target), cancellationToken);
        if (answer.Is(out Response<RolloutNotFound>? _))
            throw new CliException(ExitCodes.NotFound, $"No rollout for {target} (the controller on RabbitMQ at {where} does not know it); nothing was published.");
    }
}
