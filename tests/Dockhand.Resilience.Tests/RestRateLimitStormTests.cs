using System.Diagnostics;
using System.Globalization;
using Dockhand.Discord;
using Dockhand.Discord.Interactions;
using Dockhand.Discord.Rest;
using Dockhand.Discord.Testing.Rest;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Dockhand.Resilience.Tests;

/// <summary>
/// A storm of concurrent REST calls against small buckets, with scripted 429s (route and global) thrown in.
/// No request may go past a bucket the server announced or past the global limit, and every call must succeed in the end.
/// </summary>
[Trait("Category", "Resilience")]
public sealed class RestRateLimitStormTests
{
    private const string Token = "resilience-rest-token";

    [Fact]
    public async Task ConcurrentCalls_SmallBucketsAnd429s_NoRequestPastABucket()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LoopbackDiscordRestServer.StartAsync(Token, cancellationToken: ct);
        const int users = 30;
        const int followUps = 20;
        server.SetBucket(LoopbackDiscordRestServer.Routes.GetUser, "users", 5, TimeSpan.FromMilliseconds(500));
        server.SetBucket(LoopbackDiscordRestServer.Routes.FollowUp, "followups", 4, TimeSpan.FromMilliseconds(500));
        for (var i = 0; i < users; i++)
            server.AddUser(UserId(i), $"user{i}");
        for (var i = 0; i < 3; i++)
            server.EnqueueRateLimit(LoopbackDiscordRestServer.Routes.GetUser, TimeSpan.FromMilliseconds(300));
        server.EnqueueRateLimit(LoopbackDiscordRestServer.Routes.FollowUp, TimeSpan.FromMilliseconds(250));
        server.EnqueueRateLimit("*", TimeSpan.FromMilliseconds(200), RateLimitScope.Global);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [DiscordConfiguration.TokenKey] = Token,
            [DiscordConfiguration.ApiBaseUrlKey] = server.ApiBaseUrl.ToString(),
            [DiscordConfiguration.ApplicationIdKey] = server.ApplicationId.ToString(CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDockhandDiscord(configuration);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<DiscordRestClient>();

        const string interactionToken = "resilience-storm-interaction";
        await client.CreateInteractionResponseAsync(InteractionPayloads.NextId(), interactionToken, InteractionResponse.Deferred(), ct);

        var watch = Stopwatch.StartNew();
        var lookups = Enumerable.Range(0, users).Select(i => client.GetUserAsync(UserId(i), ct)).ToList();
        var messages = Enumerable.Range(0, followUps)
            .Select(i => client.CreateFollowUpAsync(server.ApplicationId, interactionToken, DiscordMessage.Text($"follow-up {i}"), ct)).ToList();
        var found = await Task.WhenAll(lookups).WaitAsync(TimeSpan.FromSeconds(60), ct);
        var sent = await Task.WhenAll(messages).WaitAsync(TimeSpan.FromSeconds(60), ct);
        watch.Stop();

        var throttled = server.Requests.Count(r => r.Status == 429);
        TestContext.Current.TestOutputHelper?.WriteLine($"{users + followUps} calls in {watch.Elapsed.TotalSeconds:0.00} s; {server.Requests.Count} requests, {throttled} answered 429 "
            + $"(5 scripted); bucket violations {server.BucketViolations}, global violations {server.GlobalViolations}");
        Assert.Equal(0, server.BucketViolations);
        Assert.Equal(0, server.GlobalViolations);
        Assert.All(found, u => Assert.NotNull(u));
        Assert.Equal(followUps, sent.Length);
        Assert.Equal(followUps, server.GetFollowUps(interactionToken).Count);
        // The buckets were honoured, not dodged: 30 lookups at 5 per 500 ms need at least 2.5 s.
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(2.4), $"the storm finished in {watch.Elapsed.TotalSeconds:0.00} s, faster than the buckets allow");
    }

    private static ulong UserId(int i) => 1_250_000_000_000_100_000UL + (ulong)i;
}
