using System.Text.Json;
using Dockhand.Discord.JsonModels;
using Dockhand.Discord.Rest;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dockhand.Discord.Interactions;

/// <summary>
/// POST /interactions. Order: bounded body read → Ed25519 + timestamp check (401 on any failure) → parse (400) →
/// PING answers PONG → a repeated interaction id gets a short "already handled" → otherwise dispatch and wait (at most <see cref="ResponseBudget"/>) for the handler's
/// initial response, which becomes the HTTP body; after that an automatic acknowledgement does. Never answers 500.
/// </summary>
internal sealed partial class InteractionEndpoint(
    InteractionSignatureVerifier verifier, InteractionDispatcher dispatcher, InteractionReplayGuard replays, DiscordRestClient rest, TimeProvider time,
    ILogger<InteractionEndpoint> logger)
{
    public const int MaxBodyBytes = 256 * 1024;
    /// <summary>
    /// How long the endpoint waits for the handler's initial response before acknowledging for it. Discord's 3 s start
    /// when it sends the request, so the network both ways and the queue before us come out of them; 2.3 s leaves 0.7 s.
    /// </summary>
    public static readonly TimeSpan ResponseBudget = TimeSpan.FromMilliseconds(2300);

    private static readonly byte[] PongBody = """{"type":1}"""u8.ToArray();
    private static readonly byte[] AlreadyHandledBody = """{"type":4,"data":{"content":"This interaction was already handled.","flags":64}}"""u8.ToArray();
    private static readonly byte[] EmptyChoicesBody = """{"type":8,"data":{"choices":[]}}"""u8.ToArray();

    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        try
        {
            if (context.Request.ContentLength > MaxBodyBytes)
                return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
            var body = await ReadBoundedAsync(context.Request.Body, aborted);
            if (body is null)
                return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);

            var signature = context.Request.Headers["X-Signature-Ed25519"];
            var timestamp = context.Request.Headers["X-Signature-Timestamp"];
            if (signature.Count != 1 || timestamp.Count != 1 || !verifier.Verify(signature[0], timestamp[0], body))
            {
                LogRejected(logger);
                return Results.Text("invalid request signature", statusCode: StatusCodes.Status401Unauthorized);
            }

            JsonInteraction? json;
            try
            {
                json = JsonSerializer.Deserialize(body, DiscordJsonContext.Default.JsonInteraction);
            }
            catch (JsonException)
            {
                return Results.BadRequest();
            }
            if (json?.Type == (int)InteractionType.Ping)
                return Results.Bytes(PongBody, "application/json");
            var interaction = WireMapper.Parse(json);
            if (interaction is null)
                return Results.BadRequest();
            if (!replays.TryTake(interaction.Id))
            {
                // A valid signature does not make a request new: the same signed body can be posted again for 5 minutes.
                LogReplay(logger, interaction.Id);
                return Results.Bytes(interaction.Type == InteractionType.Autocomplete ? EmptyChoicesBody : AlreadyHandledBody, "application/json");
            }

            var responder = new HttpInteractionResponder(interaction, rest, logger);
            _ = dispatcher.DispatchAsync(interaction, responder);

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            var timeout = Task.Delay(ResponseBudget, time, wait.Token);
            await Task.WhenAny(responder.InitialResponse, timeout);
            await wait.CancelAsync();
            if (!responder.InitialResponse.IsCompleted && responder.TryAutoAcknowledge())
                LogAutoAcknowledged(logger, interaction.Id, ResponseBudget.TotalMilliseconds);
            var response = await responder.InitialResponse;
            var bytes = JsonSerializer.SerializeToUtf8Bytes(WireMapper.ToJson(response), DiscordJsonContext.Default.JsonInteractionResponse);
            // Write and complete the HTTP response before the handler's RespondAsync returns, so that its next call
            // (typically an @original edit) cannot overtake the initial response.
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = bytes.Length;
            try
            {
                await context.Response.Body.WriteAsync(bytes, aborted);
                await context.Response.CompleteAsync();
                responder.MarkWritten();
            }
            catch (Exception e)
            {
                responder.MarkWritten(e);
                throw;
            }
            return Results.Empty;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return Results.StatusCode(StatusCodes.Status400BadRequest);
        }
        catch (BadHttpRequestException)
        {
            return Results.BadRequest();
        }
        catch (Exception e)
        {
            LogFailed(logger, e);
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>Reads at most <see cref="MaxBodyBytes"/>; null when the body is larger.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        using var memory = new MemoryStream();
        while (true)
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
                return memory.ToArray();
            if (memory.Length + read > MaxBodyBytes)
                return null;
            memory.Write(buffer, 0, read);
        }
    }

    [LoggerMessage(EventId = 3150, Level = LogLevel.Debug, Message = "Rejected an interaction request with an invalid signature or timestamp.")]
    private static partial void LogRejected(ILogger logger);

    [LoggerMessage(EventId = 3151, Level = LogLevel.Warning, Message = "No initial response to interaction {InteractionId} within {BudgetMs} ms; acknowledged it automatically (the handler should defer sooner).")]
    private static partial void LogAutoAcknowledged(ILogger logger, ulong interactionId, double budgetMs);

    [LoggerMessage(EventId = 3153, Level = LogLevel.Warning, Message = "Interaction {InteractionId} arrived again (a replayed request); answered without running the command again.")]
    private static partial void LogReplay(ILogger logger, ulong interactionId);

    [LoggerMessage(EventId = 3152, Level = LogLevel.Error, Message = "The interactions endpoint failed.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
