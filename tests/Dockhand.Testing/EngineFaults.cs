using System.Reflection;
using System.Runtime.ExceptionServices;
using Dockhand.Containers;

namespace Dockhand.Testing;

/// <summary>
/// The real engine with chosen calls failing: for the paths a real engine takes only by accident (an inspect that
/// times out right after a start). Every other call goes to the real runtime unchanged.
/// </summary>
public class EngineFaults : DispatchProxy
{
    private IContainerRuntime _real = null!;
    private Func<string, Exception?> _fault = null!;

    /// <param name="fault">Given the called method's name, the exception its task fails with, or null to call the real engine.</param>
    public static IContainerRuntime Wrap(IContainerRuntime real, Func<string, Exception?> fault)
    {
        var proxy = Create<IContainerRuntime, EngineFaults>();
        var faults = (EngineFaults)(object)proxy;
        faults._real = real;
        faults._fault = fault;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (_fault(targetMethod.Name) is { } exception)
            return Faulted(targetMethod.ReturnType, exception);
        try
        {
            return targetMethod.Invoke(_real, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    private static object Faulted(Type returnType, Exception exception)
    {
        if (returnType == typeof(Task))
            return Task.FromException(exception);
        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var fromException = typeof(Task).GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Single(m => m.Name == nameof(Task.FromException) && m.IsGenericMethodDefinition)
                .MakeGenericMethod(returnType.GetGenericArguments()[0]);
            return fromException.Invoke(null, [exception])!;
        }
        throw new NotSupportedException($"EngineFaults fails only Task-returning calls, not {returnType}.");
    }
}
