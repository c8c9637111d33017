[assembly: CaptureConsole]
[assembly: TestCollectionOrderer(typeof(Dockhand.Tests.StartSlowestFirst))]

namespace Dockhand.Tests;

/// <summary>The fresh-clone run (1-2 minutes, most of it a build) first, then the other collections that take tens of seconds.</summary>
public sealed class StartSlowestFirst() : Dockhand.Testing.SlowestFirstCollectionOrderer("ReadmeRunTests", "TwoInstancesTests", "ListPaginationTests", Bot.Support.BotCollection.Name);
