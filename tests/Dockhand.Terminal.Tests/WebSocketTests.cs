using System.Diagnostics;
using System.Net.WebSockets;
using Dockhand.Containers;
using Dockhand.Terminal.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Dockhand.Terminal.Tests;

/// <summary>The WebSocket relay against the real Docker engine.</summary>
[Collection(DockerCollection.Name)]
public sealed class WebSocketTests(EngineFixture docker)
{
    private static readonly OwnerId Alice = new(80351110224678912);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(TerminalHost Host, string Container, TerminalClient Client)> OpenAsync(string image = EngineFixture.BashImage,
        IDictionary<string, string?>? settings = null, TimeProvider? time = null)
    {
        var container = await docker.StartContainerAsync(image, cancellationToken: Ct);
        var host = await TerminalHost.StartAsync(time, settings, cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        var client = await TerminalClient.OpenAsync(host, link.Url, Ct);
        Assert.True(await client.ReadUntilAsync(c => c.Shell is not null, TimeSpan.FromSeconds(15), Ct), "no 'attached' message");
        return (host, container, client);
    }

    [Fact]
    public async Task Socket_Arithmetic_ShowsFortyTwo()
    {
        var (host, _, client) = await OpenAsync();
        await using var _h = host;
        await using var _c = client;

        await client.SendAsync("echo $((6*7))\r", Ct);

        Assert.True(await client.ExpectLineAsync("42", Ct), "output was: " + client.Output);
        Assert.Equal("/bin/bash", client.Shell);
    }

    [Fact]
    public async Task Socket_Attached_SaysWhoseContainerItIs()
    {
        var container = await docker.StartContainerAsync(EngineFixture.TestImage, ownerLabel: Alice.ToString(), name: "alice-dev", cancellationToken: Ct);
        await using var host = await TerminalHost.StartAsync(cancellationToken: Ct);
        var link = await host.Links.IssueAsync(Alice, container, Ct);
        await using var client = await TerminalClient.OpenAsync(host, link.Url, Ct);

        Assert.True(await client.ReadUntilAsync(c => c.Shell is not null, TimeSpan.FromSeconds(15), Ct), "no 'attached' message");

        Assert.Equal(("alice-dev", Alice.ToString()), client.Whose);
    }

    [Fact]
    public async Task Socket_OwnerOpensMoreThanMaxSessions_OldestIsToldItWasReplacedAndOthersLive()
    {
        var (host, container, oldest) = await OpenAsync(EngineFixture.TestImage, new Dictionary<string, string?> { ["TERMINAL_MAX_SESSIONS"] = "2" });
        await using var _h = host;
        await using var _o = oldest;
        await using var second = await TerminalClient.OpenAsync(host, (await host.Links.IssueAsync(Alice, container, Ct)).Url, Ct);
        Assert.True(await second.ReadUntilAsync(c => c.Shell is not null, TimeSpan.FromSeconds(15), Ct), "no 'attached' message");
        // Someone else's session on the same host does not count against Alice.
        var bobContainer = await docker.StartContainerAsync(EngineFixture.TestImage, cancellationToken: Ct);
        await using var bob = await TerminalClient.OpenAsync(host, (await host.Links.IssueAsync(new OwnerId(175928847299117063), bobContainer, Ct)).Url, Ct);
        Assert.True(await bob.ReadUntilAsync(c => c.Shell is not null, TimeSpan.FromSeconds(15), Ct), "no 'attached' message");

        await using var third = await TerminalClient.OpenAsync(host, (await host.Links.IssueAsync(Alice, container, Ct)).Url, Ct);

        Assert.True(await oldest.WaitEndedAsync(Ct), "the oldest session was not ended");
        Assert.Equal(TerminalEndReasons.Replaced(2), oldest.EndedReason);
        Assert.Contains("newer one", oldest.EndedReason, StringComparison.Ordinal);
        foreach (var live in new[] { second, third, bob })
        {
            await live.SendAsync("echo $((6*7))\r", Ct);
            Assert.True(await live.ExpectLineAsync("42", Ct), "output was: " + live.Output);
        }
        Assert.Equal(3, host.Sessions.All.Count(s => s.EndReason is null));
    }

    [Fact]
    public async Task Socket_BusyboxWithoutBash_FallsBackToSh()
    {
        var (host, _, client) = await OpenAsync(EngineFixture.TestImage);
        await using var _h = host;
        await using var _c = client;

        await client.SendAsync("echo $((6*7))\r", Ct);

        Assert.True(await client.ExpectLineAsync("42", Ct), "output was: " + client.Output);
        Assert.Equal("/bin/sh", client.Shell);
    }

    [Fact]
    public async Task Socket_Resize_SttySizeShowsNewSize()
    {
        var (host, _, client) = await OpenAsync();
        await using var _h = host;
        await using var _c = client;

        await client.ResizeAsync(132, 43, Ct);
        // The new size reaches the shell's pty in the background: ask until the shell sees it (each ask waits 2 s for
        // its answer), rather than after a fixed pause that a starved machine can overrun.
        var seen = false;
        for (var attempt = 0; attempt < 15 && !seen; attempt++)
        {
            await client.SendAsync("stty size\r", Ct);
            seen = await client.ExpectLineAsync("43 132", Ct, seconds: 2);
        }

        Assert.True(seen, "output was: " + client.Output);
    }

    [Fact]
    public async Task Socket_Utf8_RoundTrips()
    {
        var (host, _, client) = await OpenAsync();
        await using var _h = host;
        await using var _c = client;

        await client.SendAsync("printf '%s\\n' 'h\u00e9llo \u2713 \u6f22\u5b57'\r", Ct);

        Assert.True(await client.ExpectLineAsync("h\u00e9llo \u2713 \u6f22\u5b57", Ct), "output was: " + client.Output);
    }

    [Theory]
    [InlineData(EngineFixture.BashImage)]
    [InlineData(EngineFixture.TestImage)]
    public async Task Socket_Closed_EndsTheExecProcessAfterGrace(string image)
    {
        var (host, container, client) = await OpenAsync(image, new Dictionary<string, string?> { ["TERMINAL_REATTACH_GRACE"] = "1s" });
        await using var _h = host;
        var session = Assert.Single(host.Sessions.All);
        // A foreground job that ignores the closed stream: only an explicit kill ends it.
        await client.SendAsync("sleep 1000\r", Ct);
        await Eventually.TrueAsync(async () => (await docker.Client.Containers.ListProcessesAsync(container, new Docker.DotNet.Models.ContainerListProcessesParameters(), Ct))
            .Processes.Any(p => string.Join(' ', p).Contains("sleep 1000", StringComparison.Ordinal)), "sleep 1000 running in the container", Ct);
        var execId = session.ExecId!;
        Assert.True((await docker.Client.Exec.InspectContainerExecAsync(execId, Ct)).Running);

        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, Ct);
        await client.DisposeAsync();
        await session.Ended.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var inspect = await docker.Client.Exec.InspectContainerExecAsync(execId, Ct);
        Assert.False(inspect.Running);
        Assert.Empty(host.Sessions.All);
        var top = await docker.Client.Containers.ListProcessesAsync(container, new Docker.DotNet.Models.ContainerListProcessesParameters(), Ct);
        Assert.DoesNotContain(top.Processes, p => string.Join(' ', p).Contains("sleep 1000", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Socket_ReattachWithinGrace_ReplaysRecentOutputAndKeepsTheShell()
    {
        var (host, _, client) = await OpenAsync(settings: new Dictionary<string, string?> { ["TERMINAL_REATTACH_GRACE"] = "30s" });
        await using var _h = host;
        await client.SendAsync("X=remembered; echo marker-$((40+2))\r", Ct);
        Assert.True(await client.ExpectLineAsync("marker-42", Ct));
        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, Ct);
        await Task.Delay(300, Ct);

        await using var again = await TerminalClient.ConnectAsync(host, client.PageUri, client.Cookies, Ct);
        Assert.True(await again.ExpectAsync("marker-42", Ct), "replay was: " + again.Output);
        await again.SendAsync("echo $X\r", Ct);

        Assert.True(await again.ExpectLineAsync("remembered", Ct), "output was: " + again.Output);
        await client.DisposeAsync();
    }

    [Fact]
    public async Task Socket_CookieReachesAnotherProcess_OpensANewShellThereAndSaysSo()
    {
        var (a, container, client) = await OpenAsync();
        await using var _a = a;
        await using var _c = client;
        await using var b = await TerminalHost.StartAsync(databasePath: a.DatabasePath, cancellationToken: Ct);
        await client.SendAsync("X=remembered; echo marker-$((40+2))\r", Ct);
        Assert.True(await client.ExpectLineAsync("marker-42", Ct), "output was: " + client.Output);
        Assert.Null(client.Notice);

        // The same page (its cookie) reaches process B, as after a restart or behind a load balancer.
        await using var moved = await TerminalClient.ConnectAsync(b, new Uri(b.BaseAddress, client.PageUri.AbsolutePath), client.Cookies, Ct);
        Assert.True(await moved.ReadUntilAsync(c => c.Shell is not null, TimeSpan.FromSeconds(15), Ct), "no 'attached' message; ended: " + moved.EndedReason);
        await moved.SendAsync("echo \"[$X]\" marker-$((40+3))\r", Ct);

        Assert.Equal(TerminalSessions.ReopenedNotice, moved.Notice);
        Assert.True(await moved.ExpectLineAsync("[] marker-43", Ct), "a new shell has no X; output was: " + moved.Output);
        Assert.Equal(container, Assert.Single(b.Sessions.All).ContainerId);
        // A learns at its next heartbeat that the session moved, and ends its shell: one shell per session.
        Assert.True(await client.WaitEndedAsync(Ct, seconds: 30), "A's page was not told; output: " + client.Output);
        Assert.Equal(TerminalEndReasons.OpenedElsewhere, client.EndedReason);
    }

    [Fact]
    public async Task Socket_ContainerDestroyed_EndsSessionWithReason()
    {
        var (host, container, client) = await OpenAsync();
        await using var _h = host;
        await using var _c = client;
        var session = Assert.Single(host.Sessions.All);

        await docker.RemoveContainerAsync(container, Ct);

        Assert.True(await client.WaitEndedAsync(Ct), "no 'ended' message; output: " + client.Output);
        // "removed" normally; "stopped" when the engine reports the stop before the removal (a busy machine).
        Assert.Matches("The container (was removed|stopped)", client.EndedReason);
        await session.Ended.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Empty(host.Sessions.All);
    }

    [Fact]
    public async Task Socket_TokenLifetimeOver_ClosesWithMessageAndEndsExec()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (host, _, client) = await OpenAsync(time: time);
        await using var _h = host;
        await using var _c = client;
        var session = Assert.Single(host.Sessions.All);
        var execId = session.ExecId!;

        time.Advance(TimeSpan.FromHours(1));

        Assert.True(await client.WaitEndedAsync(Ct), "no 'ended' message");
        Assert.Contains("time is up", client.EndedReason, StringComparison.Ordinal);
        await session.Ended.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.False((await docker.Client.Exec.InspectContainerExecAsync(execId, Ct)).Running);
    }

    [Fact]
    public async Task Socket_ShellExits_EndsSessionWithExitCode()
    {
        var (host, _, client) = await OpenAsync();
        await using var _h = host;
        await using var _c = client;

        await client.SendAsync("exit 3\r", Ct);

        Assert.True(await client.WaitEndedAsync(Ct), "no 'ended' message");
        Assert.Contains("code 3", client.EndedReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Socket_YesFloodWithStalledReader_ServerMemoryStaysBounded()
    {
        var (host, _, client) = await OpenAsync();
        await using var _h = host;
        await using var _c = client;

        // Fast reader first: measure throughput of a bounded flood.
        await client.SendAsync("head -c 20000000 /dev/zero | tr '\\0' y; echo; echo flood-$((1+1))-done\r", Ct);
        var watch = Stopwatch.StartNew();
        var received = 0L;
        var buffer = new byte[65536];
        var tail = "";
        while (!tail.Contains("flood-2-done", StringComparison.Ordinal))
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            limit.CancelAfter(TimeSpan.FromSeconds(60));
            var result = await client.Socket.ReceiveAsync(buffer.AsMemory(), limit.Token);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            received += result.Count;
            tail = (tail + System.Text.Encoding.ASCII.GetString(buffer, 0, result.Count))[^Math.Min(64, tail.Length + result.Count)..];
        }
        watch.Stop();
        Assert.True(received > 20_000_000);
        var throughput = $"flood: {received / 1e6:F1} MB relayed in {watch.ElapsedMilliseconds} ms ({received / 1e6 / watch.Elapsed.TotalSeconds:F1} MB/s)";

        // Then an endless flood that nobody reads: the server must stop reading from docker instead of buffering. How
        // soon the socket buffers between server and page fill depends on how much CPU the server gets, so wait for
        // the reading to stop (no new bytes over three samples a second apart: a starved server may miss one) rather
        // than for a fixed time; with back-pressure broken it never stops, and the wait fails.
        var session = Assert.Single(host.Sessions.All);
        var floodStarted = session.OutputBytes;
        await client.SendAsync("yes\r", Ct);
        await Eventually.TrueAsync(() => session.OutputBytes - floodStarted > 1024 * 1024, "`yes` output reaching the server", Ct, TimeSpan.FromSeconds(60));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var lastSeen = session.OutputBytes;
        var unchangedSamples = 0;
        await Eventually.TrueAsync(() =>
        {
            var now = session.OutputBytes;
            unchangedSamples = now == lastSeen ? unchangedSamples + 1 : 0;
            lastSeen = now;
            return unchangedSamples >= 3;
        }, "the server stopping to read from docker while the page reads nothing", Ct, TimeSpan.FromSeconds(60), interval: TimeSpan.FromSeconds(1));
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var readBefore = session.OutputBytes;
        await Task.Delay(TimeSpan.FromSeconds(2), Ct); // an observation window: nothing may be read in it
        var readAfter = session.OutputBytes;
        var stalled = $"stalled reader: managed heap {before / 1024} KiB -> {after / 1024} KiB until reading stopped; "
            + $"then {(readAfter - readBefore) / 1024} KiB read from docker in 2 s (total read {readAfter / 1024 / 1024} MiB)";
        Artifacts.Write("terminal-flood.txt", throughput + "\n" + stalled + "\n");

        Assert.True(after - before < 16 * 1024 * 1024, $"heap grew by {(after - before) / 1024} KiB while the reader stalled");
        Assert.True(readAfter - readBefore < 1024 * 1024, "docker kept being read while the page did not read: " + stalled);
        await client.SendAsync("\u0003", Ct);
    }
}
