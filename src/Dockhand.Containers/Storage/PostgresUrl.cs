using System.Globalization;
using Npgsql;

namespace Dockhand.Containers.Storage;

/// <summary>
/// Reads <c>DATABASE_URL</c> (<c>postgres://user:password@host:port/database?sslmode=require</c>, libpq's URI form) into
/// an Npgsql connection string. Npgsql reads only its own key=value form, so the URI is translated here, and anything
/// it cannot translate is refused with one sentence rather than silently dropped.
/// </summary>
public static class PostgresUrl
{
    /// <summary>True for a value that names PostgreSQL (postgres:// or postgresql://).</summary>
    public static bool IsPostgres(string? value)
        => value is not null && (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Translates the URL. Throws <see cref="FormatException"/> with a sentence saying what is wrong.</summary>
    public static NpgsqlConnectionStringBuilder Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!IsPostgres(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            throw new FormatException("it is not a PostgreSQL URL; write postgres://USER:PASSWORD@HOST:PORT/DATABASE");
        var builder = new NpgsqlConnectionStringBuilder();
        if (uri.Host.Length > 0)
            builder.Host = uri.Host.Trim('[', ']');
        if (uri.Port > 0)
            builder.Port = uri.Port;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
            builder.Database = database;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
            switch (key)
            {
                case "host": builder.Host = value; break; // a unix socket directory, as libpq allows
                case "port": builder.Port = ParseNumber(key, value); break;
                case "user": builder.Username = value; break;
                case "password": builder.Password = value; break;
                case "dbname": builder.Database = value; break;
                case "application_name": builder.ApplicationName = value; break;
                case "connect_timeout": builder.Timeout = ParseNumber(key, value); break;
                case "sslmode":
                    builder.SslMode = Enum.TryParse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode)
                        ? mode
                        : throw new FormatException($"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full");
                    break;
                case "sslrootcert": builder.RootCertificate = value; break;
                case "sslcert": builder.SslCertificate = value; break;
                case "sslkey": builder.SslKey = value; break;
                default:
                    throw new FormatException($"the parameter '{key}' is not supported; use host, port, user, password, dbname, application_name, connect_timeout, sslmode, sslrootcert, sslcert or sslkey");
            }
        }
        if (string.IsNullOrEmpty(builder.Host))
            throw new FormatException("it names no host; write postgres://USER:PASSWORD@HOST:PORT/DATABASE");
        if (string.IsNullOrEmpty(builder.Database))
            throw new FormatException("it names no database; write postgres://USER:PASSWORD@HOST:PORT/DATABASE");
        builder.ApplicationName ??= "dockhand";
        return builder;
    }

    /// <summary>The URL as an operator may see it in logs and health output: the password is never shown.</summary>
    public static string Redact(NpgsqlConnectionStringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var user = string.IsNullOrEmpty(builder.Username) ? "" : Uri.EscapeDataString(builder.Username) + "@";
        var host = builder.Host ?? "";
        var hostPart = host.StartsWith('/') ? $"?host={Uri.EscapeDataString(host)}" : "";
        var authority = host.StartsWith('/') ? "" : (host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host) + ":" + builder.Port.ToString(CultureInfo.InvariantCulture);
        return $"postgres://{user}{authority}/{Uri.EscapeDataString(builder.Database ?? "")}{hostPart}";
    }

    private static int ParseNumber(string key, string value)
        => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : throw new FormatException($"{key} '{value}' is not a whole number");
}
