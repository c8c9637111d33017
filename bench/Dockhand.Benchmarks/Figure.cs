using System.Text.Json.Nodes;
using Dockhand.Benchmarks.Support;

namespace Dockhand.Benchmarks;

/// <summary>One line of the results table, with its raw figures.</summary>
internal sealed record Figure(string Id, string What, string Dockhand, string Anchor, string Ratio, string Target, bool? Met, JsonObject Data);

/// <summary>One figure of the benchmark (P1…P8): Program.cs picks them by <see cref="Id"/>.</summary>
internal interface IFigureBenchmark
{
    /// <summary>The id in the table and in <c>--only</c> (P1…P8, P3env).</summary>
    string Id { get; }

    /// <summary>True when the figure runs against the shared main <c>dockhand run</c>; false when it starts its own processes.</summary>
    bool UsesMainServer { get; }

    /// <summary>False for the figures that run only when named in <c>--only</c> (they take minutes or restart the main server).</summary>
    bool InDefaultRun { get; }

    Task<Figure> RunAsync(BenchContext context, CancellationToken cancellationToken = default);
}
