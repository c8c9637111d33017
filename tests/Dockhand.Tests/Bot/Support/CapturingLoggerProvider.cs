using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Dockhand.Tests.Bot.Support;

/// <summary>Keeps the host's warnings and errors, so a failing test can show them.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>Warnings and errors, plus debug lines that mention <paramref name="mention"/>.</summary>
    public string Dump(string? mention = null) => string.Join('\n', Entries
        .Where(e => !e.Contains(" Debug ", StringComparison.Ordinal) && !e.Contains(" Information ", StringComparison.Ordinal)
            || mention is not null && e.Contains(mention, StringComparison.Ordinal))
        .TakeLast(60));

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                owner.Entries.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? "" : " — " + exception.GetType().Name + ": " + exception.Message)}");
        }
    }
}
