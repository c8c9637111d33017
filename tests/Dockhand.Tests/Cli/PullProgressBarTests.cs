using Dockhand.Cli;
using Dockhand.Containers;

namespace Dockhand.Tests.Cli;

public sealed class PullProgressBarTests
{
    [Fact]
    public void Report_TwoLayers_DrawsCombinedPercentOnOneLine()
    {
        using var output = new StringWriter();
        var bar = new PullProgressBar(output);

        bar.Report(new PullProgress("ubuntu:24.04", "aaa: Downloading", 50, 100));
        bar.Report(new PullProgress("ubuntu:24.04", "bbb: Downloading", 0, 100));
        bar.Finish();

        var text = output.ToString();
        Assert.Contains("pulling ubuntu:24.04", text, StringComparison.Ordinal);
        Assert.Contains(" 50%", text, StringComparison.Ordinal);
        Assert.Contains(" 25%", text, StringComparison.Ordinal);
        Assert.StartsWith("\r", text, StringComparison.Ordinal);
        Assert.EndsWith(Environment.NewLine, text, StringComparison.Ordinal);
    }
}
