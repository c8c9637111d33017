using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;
using Dockhand.Discord.Testing.Rest;
using static Dockhand.Benchmarks.Support.Format;

namespace Dockhand.Benchmarks.Figures;

/// <summary>P7: /list dispatched on the gateway with 10,000 records in the server's database; time to the first page in @original.</summary>
internal sealed class ListBenchmark : IFigureBenchmark
{
    public string Id => "P7";

    public bool UsesMainServer => true;

    public bool InDefaultRun => true;

    public async Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default)
    {
        var ct = cancellationToken;
        var env = context.Env;
        var quick = context.Quick;
        const int records = 10_000;
        await RecordSeeder.SeedAsync(env.DatabasePath, env.RunId, records, ct);
        var runs = quick ? 3 : 9;
        var samples = new List<double>();
        var deferred = new List<double>();
        for (var i = 0; i < runs + 1; i++)
        {
            var token = env.NextToken();
            var start = DateTimeOffset.UtcNow;
            await env.Gateway.DispatchInteractionAsync(env.SlashCommand(BenchEnvironment.Invoker, "list", token).ToJsonString(), ct);
            var edit = await env.WaitForEditAsync(token, "\"embeds\"", TimeSpan.FromSeconds(60), 1, ct);
            if (!edit.Body.Contains("seeded-0", StringComparison.Ordinal))
                throw new InvalidOperationException($"P7: the first page is not the seeded records': {edit.Body[..Math.Min(300, edit.Body.Length)]}");
            var callback = env.Rest.RequestsTo(LoopbackDiscordRestServer.Routes.InteractionCallback).LastOrDefault(r => r.Path.Contains(token, StringComparison.Ordinal));
            if (i > 0) // the first run warms up
            {
                samples.Add((edit.At - start).TotalMilliseconds);
                deferred.Add(callback is null ? double.NaN : (callback.At - start).TotalMilliseconds);
            }
            await Task.Delay(100, ct);
        }
        var median = Stats.Median(samples);
        context.Log($"P7: /list first page median {median:0.0} ms (deferred after {Stats.Median(deferred):0.0} ms)");
        return new Figure("P7", "`/list` with 10,000 records: gateway interaction in → first page in @original",
            $"{Ms(median)} (p90 {Ms(Stats.Percentile(samples, 90))})", "—", "—", "≤ 50 ms", median <= 50,
            new JsonObject
            {
                ["records"] = records, ["samples_ms"] = Format.Array(samples), ["median_ms"] = median, ["deferred_ms"] = Format.Array(deferred),
                ["deferred_median_ms"] = Stats.Median(deferred),
                ["note"] = "the bot defers (ephemeral) first, then edits @original with page 1 (10 rows); the seeded rows' containers do not exist, so each costs an inspect (404), as a running container's would (its start time)",
            });
    }
}
