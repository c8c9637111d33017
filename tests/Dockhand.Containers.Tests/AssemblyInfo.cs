[assembly: CaptureConsole]
[assembly: AssemblyFixture(typeof(Dockhand.Testing.EngineFixture))]
[assembly: AssemblyFixture(typeof(Dockhand.Testing.PostgresServer))]
[assembly: TestCollectionOrderer(typeof(Dockhand.Containers.Tests.StartSlowestFirst))]

namespace Dockhand.Containers.Tests;

/// <summary>The Swarm test bed's collection (about 2 minutes with its up and down) first, then the others that take tens of seconds.</summary>
public sealed class StartSlowestFirst() : Dockhand.Testing.SlowestFirstCollectionOrderer(Swarm.SwarmCollection.Name, "SharedEngineTests", "IdleCullingTests", "CrashTests");
