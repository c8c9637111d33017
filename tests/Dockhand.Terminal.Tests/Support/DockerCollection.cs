namespace Dockhand.Terminal.Tests.Support;

/// <summary>The tests that run containers on the shared engine: one after another, on one <see cref="EngineFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<EngineFixture>
{
    public const string Name = "docker";
}
