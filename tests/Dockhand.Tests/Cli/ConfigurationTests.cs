using Dockhand.Configuration;
using Dockhand.Containers;

namespace Dockhand.Tests.Cli;

public sealed class ConfigurationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dockhand-cfg-").FullName;

    [Fact]
    public void Parse_CommentsQuotesExportAndBlankLines_ReadsValues()
    {
        var values = DotEnvParser.Parse("""
            # a comment

            DISCORD_TOKEN=abc.def
            export DEFAULT_IMAGE = ubuntu:24.04   # trailing comment
            AUTHORIZED_USERS="1,2, 3"
            QUOTED='literal # not a comment'
            ESCAPED="line1\nline2 \"q\""
            EMPTY=
            URL=http://x/#frag
            """);

        Assert.Equal("abc.def", values["DISCORD_TOKEN"]);
        Assert.Equal("ubuntu:24.04", values["DEFAULT_IMAGE"]);
        Assert.Equal("1,2, 3", values["AUTHORIZED_USERS"]);
        Assert.Equal("literal # not a comment", values["QUOTED"]);
        Assert.Equal("line1\nline2 \"q\"", values["ESCAPED"]);
        Assert.Equal("", values["EMPTY"]);
        Assert.Equal("http://x/#frag", values["URL"]);
    }

    [Theory]
    [InlineData("NOEQUALS")]
    [InlineData("=value")]
    [InlineData("BAD KEY=1")]
    [InlineData("OPEN=\"never closed")]
    public void Parse_MalformedLine_NamesTheLine(string line)
    {
        var error = Assert.Throws<InvalidSettingException>(() => DotEnvParser.Parse("GOOD=1\n" + line));

        Assert.StartsWith(".env line 2: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SameKeyEverywhere_EnvironmentBeatsDotEnvBeatsAppSettings()
    {
        var onlyJson = "DOCKHAND_TEST_ONLY_JSON_" + Guid.NewGuid().ToString("N")[..6];
        var jsonAndEnvFile = "DOCKHAND_TEST_JSON_DOTENV_" + Guid.NewGuid().ToString("N")[..6];
        var all = "DOCKHAND_TEST_ALL_" + Guid.NewGuid().ToString("N")[..6];
        File.WriteAllText(Path.Combine(_directory, "appsettings.json"), $$"""{"{{onlyJson}}":"json","{{jsonAndEnvFile}}":"json","{{all}}":"json"}""");
        File.WriteAllText(Path.Combine(_directory, ".env"), $"{jsonAndEnvFile}=dotenv\n{all}=dotenv\n");
        Environment.SetEnvironmentVariable(all, "environment");
        try
        {
            var configuration = DockhandConfiguration.Build(_directory);

            Assert.Equal("json", configuration[onlyJson]);
            Assert.Equal("dotenv", configuration[jsonAndEnvFile]);
            Assert.Equal("environment", configuration[all]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(all, null);
        }
    }

    [Fact]
    public void DotEnvFile_FileInDirectory_FullPathAndFound()
    {
        File.WriteAllText(Path.Combine(_directory, ".env"), "DATABASE_PATH=x.db\n");

        var file = DockhandConfiguration.DotEnvFile(DockhandConfiguration.Build(_directory));

        Assert.Equal((Path.Combine(_directory, ".env"), true), file);
    }

    [Fact]
    public void DotEnvFile_NoFile_PathLookedAtAndNotFound()
    {
        var file = DockhandConfiguration.DotEnvFile(DockhandConfiguration.Build(_directory));

        Assert.Equal((Path.Combine(_directory, ".env"), false), file);
    }

    [Fact]
    public void Build_NoFiles_StillReadsEnvironment()
    {
        var key = "DOCKHAND_TEST_ENV_" + Guid.NewGuid().ToString("N")[..6];
        Environment.SetEnvironmentVariable(key, "yes");
        try
        {
            Assert.Equal("yes", DockhandConfiguration.Build(_directory)[key]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(key, null);
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
