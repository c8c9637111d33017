using Xunit.Sdk;
using Xunit.v3;

namespace Dockhand.Testing;

/// <summary>
/// Starts the named test classes' collections first, in the order given, and the rest after them in xunit's default
/// order. A test module runs two collections at a time (one per core), so its wall time is at least that of its slowest
/// collection plus whatever ran before it on the same thread: started last, a 1-2 minute collection (the fresh-clone
/// run, the Swarm test bed) made its module wait for it alone at the end. Each test project names its own slowest
/// collections in a subclass and registers it with <c>[assembly: TestCollectionOrderer(typeof(…))]</c>.
/// </summary>
public abstract class SlowestFirstCollectionOrderer(params string[] slowestFirst) : ITestCollectionOrderer
{
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection
    {
        ArgumentNullException.ThrowIfNull(testCollections);
        var rank = slowestFirst.Select((name, index) => (name, index)).ToDictionary(x => x.name, x => x.index, StringComparer.Ordinal);
        var first = testCollections.Select(c => (Collection: c, Rank: Rank(c, rank))).Where(x => x.Rank is not null)
            .OrderBy(x => x.Rank).Select(x => x.Collection);
        var rest = DefaultTestCollectionOrderer.Instance.OrderTestCollections(testCollections.Where(c => Rank(c, rank) is null).ToList());
        return [.. first, .. rest];
    }

    /// <summary>
    /// A class's own collection is displayed as "Test collection for Namespace.Class (id: …)" (xunit v3), and is ranked by
    /// the class's name; a named collection by its name.
    /// </summary>
    private static int? Rank(ITestCollection collection, Dictionary<string, int> rank)
    {
        const string ForClass = "Test collection for ";
        var name = collection.TestCollectionDisplayName;
        if (name.StartsWith(ForClass, StringComparison.Ordinal))
        {
            var className = name[ForClass.Length..];
            var id = className.IndexOf(" (id: ", StringComparison.Ordinal);
            if (id >= 0)
                className = className[..id];
            name = className[(className.LastIndexOf('.') + 1)..];
        }
        return rank.TryGetValue(name, out var index) ? index : null;
    }
}
