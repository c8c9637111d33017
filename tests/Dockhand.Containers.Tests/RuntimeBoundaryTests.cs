using System.Reflection;

namespace Dockhand.Containers.Tests;

/// <summary>
/// The engine has one door: <see cref="IContainerRuntime"/>. Only Dockhand.Containers may know Docker.DotNet (its
/// csproj keeps the package's compile assets private, so the compiler already refuses a Docker type elsewhere; this
/// checks the built assemblies too), and the runtime's public surface carries none of its types.
/// </summary>
public sealed class RuntimeBoundaryTests
{
    [Theory]
    [InlineData("Dockhand.Terminal")]
    [InlineData("Dockhand.Discord")]
    [InlineData("dockhand")]
    public void Assembly_OutsideContainers_ReferencesNoDockerDotNet(string name)
    {
        var assembly = Assembly.Load(name);

        var docker = assembly.GetReferencedAssemblies().Where(a => a.Name!.StartsWith("Docker.DotNet", StringComparison.Ordinal)).Select(a => a.Name).ToList();

        Assert.Empty(docker);
    }

    [Fact]
    public void ContainersAssembly_PublicSurface_ExposesNoDockerDotNetType()
    {
        var containers = typeof(IContainerRuntime).Assembly;
        Assert.Contains(containers.GetReferencedAssemblies(), a => a.Name == "Docker.DotNet.Enhanced" || a.Name == "Docker.DotNet");

        var leaks = containers.GetExportedTypes()
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly).Select(m => (Type: t, Member: m)))
            .Where(x => SignatureTypes(x.Member).Any(IsDockerType) || x.Type.BaseType is { } b && IsDockerType(b) || x.Type.GetInterfaces().Any(IsDockerType))
            .Select(x => $"{x.Type.Name}.{x.Member.Name}")
            .ToList();

        Assert.Empty(leaks);
    }

    private static IEnumerable<Type> SignatureTypes(MemberInfo member) => member switch
    {
        MethodInfo m => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType),
        PropertyInfo p => [p.PropertyType],
        FieldInfo f => [f.FieldType],
        ConstructorInfo c => c.GetParameters().Select(p => p.ParameterType),
        EventInfo e => e.EventHandlerType is { } h ? [h] : [],
        _ => [],
    };

    private static bool IsDockerType(Type type)
        => type.Namespace?.StartsWith("Docker.DotNet", StringComparison.Ordinal) == true
           || type.IsGenericType && type.GetGenericArguments().Any(IsDockerType)
           || type.HasElementType && IsDockerType(type.GetElementType()!);
}
