using Dockhand.Discord.Testing.Rest;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Dockhand.Discord.Tests;

public sealed class ConfigurationTests
{
    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Read_AllKeysValid_BindsFlatKeys()
    {
        using var signer = new InteractionSigner();
        var options = new DiscordOptions();
        var problems = DiscordConfiguration.Read(Config(("DISCORD_TOKEN", "abc.def"), ("DISCORD_APPLICATION_ID", "123"), ("DISCORD_PUBLIC_KEY", signer.PublicKeyHex),
            ("DISCORD_GUILD_ID", "456"), ("DISCORD_API_BASE_URL", "http://127.0.0.1:1/api/v10"), ("DISCORD_GATEWAY_URL", "ws://127.0.0.1:2"), ("DISCORD_MAX_RATE_LIMIT_WAIT", "15")), options);

        Assert.Empty(problems);
        Assert.Equal("abc.def", options.Token);
        Assert.Equal(new Snowflake(123), options.ApplicationId);
        Assert.Equal(new Snowflake(456), options.GuildId);
        Assert.Equal(new Uri("http://127.0.0.1:1/api/v10"), options.ApiBaseUrl);
        Assert.Equal(new Uri("ws://127.0.0.1:2"), options.GatewayUrl);
        Assert.Equal(TimeSpan.FromSeconds(15), options.MaxRateLimitWait);
    }

    [Fact]
    public void Read_Defaults_ApiBaseIsDiscordV10()
    {
        var options = new DiscordOptions();
        DiscordConfiguration.Read(Config(("DISCORD_TOKEN", "t")), options);
        Assert.Equal(new Uri("https://discord.com/api/v10"), options.ApiBaseUrl);
        Assert.Null(options.PublicKey);
        Assert.Equal(TimeSpan.FromSeconds(60), options.MaxRateLimitWait);
    }

    [Theory]
    [InlineData("DISCORD_TOKEN", null)]
    [InlineData("DISCORD_PUBLIC_KEY", "abc123")]
    [InlineData("DISCORD_PUBLIC_KEY", "zz23456789012345678901234567890123456789012345678901234567890123")]
    [InlineData("DISCORD_APPLICATION_ID", "12ab")]
    [InlineData("DISCORD_GUILD_ID", "-5")]
    [InlineData("DISCORD_API_BASE_URL", "discord.com/api")]
    [InlineData("DISCORD_GATEWAY_URL", "http://example.com")]
    [InlineData("DISCORD_MAX_RATE_LIMIT_WAIT", "0")]
    [InlineData("DISCORD_MAX_RATE_LIMIT_WAIT", "1m")]
    [InlineData("DISCORD_MAX_RATE_LIMIT_WAIT", "3601")]
    [InlineData("DISCORD_TOKEN", "Bot abc.def")]
    [InlineData("DISCORD_TOKEN", "abc\u0007def")]
    [InlineData("DISCORD_INTENTS", "-1")]
    [InlineData("DISCORD_INTENTS", "0x10")]
    [InlineData("DISCORD_API_BASE_URL", "ftp://discord.com/api/v10")]
    [InlineData("DISCORD_GATEWAY_URL", "gateway.discord.gg")]
    public void Read_BadKey_OneLineNamingTheKey(string key, string? value)
    {
        var values = new List<(string, string?)> { ("DISCORD_TOKEN", "t") };
        values.RemoveAll(v => v.Item1 == key);
        values.Add((key, value));

        var problems = DiscordConfiguration.Read(Config([.. values]), new DiscordOptions());

        var problem = Assert.Single(problems);
        Assert.StartsWith(key + " ", problem, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', problem);
    }

    [Fact]
    public void Read_PublicKeyWithoutToken_NoProblem()
    {
        using var signer = new InteractionSigner();
        var options = new DiscordOptions();

        var problems = DiscordConfiguration.Read(Config(("DISCORD_PUBLIC_KEY", signer.PublicKeyHex)), options);

        Assert.Empty(problems);
        Assert.Null(options.Token);
        Assert.Equal(signer.PublicKeyHex, options.PublicKey);
    }

    [Fact]
    public void Read_NeitherTokenNorPublicKey_OneLineNamingBoth()
    {
        var problem = Assert.Single(DiscordConfiguration.Read(Config(), new DiscordOptions()));

        Assert.StartsWith("DISCORD_TOKEN is not set", problem, StringComparison.Ordinal);
        Assert.Contains("DISCORD_PUBLIC_KEY", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDockhandDiscord_InvalidKey_OptionsValidationNamesTheKey()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDockhandDiscord(Config(("DISCORD_TOKEN", "t"), ("DISCORD_PUBLIC_KEY", "nothex")));
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<DiscordOptions>>().Value);
        Assert.Contains("DISCORD_PUBLIC_KEY", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_EdgeValues_AcceptedAndTrimmed()
    {
        var options = new DiscordOptions();
        var problems = DiscordConfiguration.Read(Config(("DISCORD_TOKEN", "  abc.def  "), ("DISCORD_INTENTS", "33281"), ("DISCORD_PUBLIC_KEY", "   "),
            ("DISCORD_API_BASE_URL", "https://discord.com/api/v9"), ("DISCORD_GATEWAY_URL", "wss://gateway.discord.gg"), ("DISCORD_MAX_RATE_LIMIT_WAIT", "3600")), options);

        Assert.Empty(problems);
        Assert.Equal("abc.def", options.Token);
        Assert.Null(options.PublicKey); // blank is unset
        Assert.Equal(33281, options.Intents);
        Assert.Equal(new Uri("https://discord.com/api/v9"), options.ApiBaseUrl);
        Assert.Equal(new Uri("wss://gateway.discord.gg"), options.GatewayUrl);
        Assert.Equal(TimeSpan.FromSeconds(3600), options.MaxRateLimitWait);

        DiscordConfiguration.Read(Config(("DISCORD_TOKEN", "t"), ("DISCORD_MAX_RATE_LIMIT_WAIT", "1")), options);
        Assert.Equal(TimeSpan.FromSeconds(1), options.MaxRateLimitWait);
    }

    [Fact]
    public void Read_LongBadSnowflake_QuotedCutAt24Characters()
    {
        var problem = Assert.Single(DiscordConfiguration.Read(Config(("DISCORD_TOKEN", "t"), ("DISCORD_GUILD_ID", new string('x', 30))), new DiscordOptions()));

        Assert.EndsWith($"got '{new string('x', 24)}…'.", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_BadSnowflakeOf24Characters_QuotedWhole()
    {
        var problem = Assert.Single(DiscordConfiguration.Read(Config(("DISCORD_TOKEN", "t"), ("DISCORD_GUILD_ID", new string('x', 24))), new DiscordOptions()));

        Assert.EndsWith($"got '{new string('x', 24)}'.", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => DiscordConfiguration.Read(null!, new DiscordOptions()));
        Assert.Throws<ArgumentNullException>(() => DiscordConfiguration.Read(Config(), null!));
    }
}
