using Dockhand.Containers.Culling;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Containers.Tests.Culling;

public sealed class IdleSettingsTests
{
    private static ContainerOptions Bind(params (string Key, string Value)[] settings)
        => ContainerOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [Fact]
    public void FromConfiguration_NoIdleSettings_CullingOffAndFivePercent()
    {
        var options = Bind(("IDLE_STOP_AFTER", " "));

        Assert.Null(options.IdleStopAfter);
        Assert.Null(options.StoppedDestroyAfter);
        Assert.Equal(5, options.IdleCpuPercent);
    }

    [Fact]
    public void FromConfiguration_IdleSettingsSet_Bound()
    {
        var options = Bind(("IDLE_STOP_AFTER", "8h"), ("IDLE_CPU_PERCENT", "2.5"), ("STOPPED_DESTROY_AFTER", "30d"));

        Assert.Equal(TimeSpan.FromHours(8), options.IdleStopAfter);
        Assert.Equal(2.5, options.IdleCpuPercent);
        Assert.Equal(TimeSpan.FromDays(30), options.StoppedDestroyAfter);
    }

    [Theory]
    [InlineData("IDLE_STOP_AFTER", "8 hours", "IDLE_STOP_AFTER: '8 hours' is not a duration; use e.g. 8h, 90m or 45s, or leave it empty to turn it off.")]
    [InlineData("IDLE_STOP_AFTER", "0s", "IDLE_STOP_AFTER: '0s' is not a duration; use e.g. 8h, 90m or 45s, or leave it empty to turn it off.")]
    [InlineData("STOPPED_DESTROY_AFTER", "-1d", "STOPPED_DESTROY_AFTER: '-1d' is not a duration; use e.g. 30d, 90m or 45s, or leave it empty to turn it off.")]
    [InlineData("IDLE_CPU_PERCENT", "0", "IDLE_CPU_PERCENT: '0' is not a CPU percentage; use e.g. 5 (percent of one core, above 0).")]
    [InlineData("IDLE_CPU_PERCENT", "five", "IDLE_CPU_PERCENT: 'five' is not a CPU percentage; use e.g. 5 (percent of one core, above 0).")]
    public void FromConfiguration_BadIdleSetting_OneSentenceNamingTheKey(string key, string value, string message)
    {
        var error = Assert.Throws<InvalidSettingException>(() => Bind((key, value)));

        Assert.Equal(key, error.Key);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("45s", 45)]
    [InlineData("90m", 5400)]
    [InlineData("1h30m", 5400)]
    [InlineData("1.5h", 5400)]
    [InlineData("30D", 2_592_000)]
    [InlineData(" 2h 15s ", 7215)]
    public void TryParse_WrittenDuration_Seconds(string text, int seconds)
    {
        Assert.True(DurationText.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("8")]
    [InlineData("h")]
    [InlineData("5ms")]
    [InlineData("0.5s")]
    [InlineData("99999d")]
    [InlineData("8x")]
    public void TryParse_NotADuration_False(string text) => Assert.False(DurationText.TryParse(text, out _));

    [Theory]
    [InlineData(8 * 3600, "8h")]
    [InlineData(30 * 86400, "30d")]
    [InlineData(5400, "1h30m")]
    [InlineData(45, "45s")]
    [InlineData(0.25, "250ms")]
    public void Format_Duration_AsAUserWouldWriteIt(double seconds, string text) => Assert.Equal(text, DurationText.Format(TimeSpan.FromSeconds(seconds)));
}
