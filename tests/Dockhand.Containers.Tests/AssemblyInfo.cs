[assembly: CaptureConsole]
[assembly: AssemblyFixture(typeof(Dockhand.Testing.EngineFixture))]
[assembly: AssemblyFixture(typeof(Dockhand.Testing.PostgresServer))]
