[assembly: CaptureConsole]
[assembly: AssemblyFixture(typeof(Dockhand.Containers.Tests.Infrastructure.EngineFixture))]
