using System.Text;
using Dockhand.Containers;
using Microsoft.Extensions.Configuration;

namespace Dockhand.Configuration;

/// <summary>
/// Reads a <c>.env</c> file: <c>KEY=VALUE</c> lines, <c># comments</c>, blank lines, an optional <c>export </c> prefix,
/// values in double quotes (with \n, \t, \" and \\ escapes), in single quotes (literal), or bare (a " #" starts a comment).
/// A missing file is no error; a malformed line throws <see cref="InvalidSettingException"/> naming the line.
/// </summary>
internal sealed class DotEnvConfigurationSource(string path) : IConfigurationSource
{
    public string Path { get; } = path;

    public IConfigurationProvider Build(IConfigurationBuilder builder) => new DotEnvConfigurationProvider(Path);
}

internal sealed class DotEnvConfigurationProvider(string path) : ConfigurationProvider
{
    /// <summary>The file's full path.</summary>
    public string FullPath { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>Whether the file existed at the last load (what <c>doctor</c> reports).</summary>
    public bool Found { get; private set; }

    public override void Load()
    {
        Found = File.Exists(FullPath);
        Data = Found
            ? DotEnvParser.Parse(File.ReadAllText(FullPath), System.IO.Path.GetFileName(FullPath))
            : new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
    }
}

internal static class DotEnvParser
{
    public static Dictionary<string, string?> Parse(string text, string sourceName = ".env")
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            if (line.StartsWith("export ", StringComparison.Ordinal))
                line = line[7..].TrimStart();
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var key = equals > 0 ? line[..equals].Trim() : "";
            if (key.Length == 0 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ':') || char.IsAsciiDigit(key[0]))
                throw new InvalidSettingException($"{sourceName} line {i + 1}", "expected KEY=VALUE with a key of letters, digits and '_'.");
            values[key] = ParseValue(line[(equals + 1)..].Trim(), sourceName, i + 1);
        }
        return values;
    }

    private static string ParseValue(string raw, string sourceName, int lineNumber)
    {
        if (raw.Length == 0)
            return "";
        if (raw[0] is '"' or '\'')
        {
            var quote = raw[0];
            var value = new StringBuilder();
            for (var i = 1; i < raw.Length; i++)
            {
                var c = raw[i];
                if (c == quote)
                {
                    var rest = raw[(i + 1)..].TrimStart();
                    if (rest.Length > 0 && rest[0] != '#')
                        throw new InvalidSettingException($"{sourceName} line {lineNumber}", "unexpected text after the closing quote.");
                    return value.ToString();
                }
                if (quote == '"' && c == '\\' && i + 1 < raw.Length)
                {
                    i++;
                    value.Append(raw[i] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', var other => other });
                    continue;
                }
                value.Append(c);
            }
            throw new InvalidSettingException($"{sourceName} line {lineNumber}", $"the value opens a {quote} quote but never closes it.");
        }
        var comment = raw.IndexOf(" #", StringComparison.Ordinal);
        return (comment >= 0 ? raw[..comment] : raw).Trim();
    }
}
