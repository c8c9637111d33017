[assembly: CaptureConsole]
[assembly: AssemblyFixture(typeof(Dockhand.Containers.Tests.Infrastructure.EngineFixture))]
[assembly: AssemblyFixture(typeof(Dockhand.Containers.Tests.Storage.PostgresServer))]
