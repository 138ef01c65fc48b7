using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Cai.ServiceDefaults.Grpc;

/// <summary>Thrown when a bounded queue or capacity is full; becomes RESOURCE_EXHAUSTED.</summary>
public sealed class OverloadedException(string message) : Exception(message);

/// <summary>
/// Turns exceptions into status codes, one place for every service: bad arguments become
/// INVALID_ARGUMENT naming the field, overload RESOURCE_EXHAUSTED, cancellation CANCELLED,
/// a missing file or model NOT_FOUND; anything else INTERNAL (logged, message not leaked).
/// </summary>
public sealed class ExceptionInterceptor(ILogger<ExceptionInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try { return await continuation(request, context); }
        catch (Exception ex) when (ex is not RpcException) { throw Translate(ex, context); }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { await continuation(request, responseStream, context); }
        catch (Exception ex) when (ex is not RpcException) { throw Translate(ex, context); }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { return await continuation(requestStream, context); }
        catch (Exception ex) when (ex is not RpcException) { throw Translate(ex, context); }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { await continuation(requestStream, responseStream, context); }
        catch (Exception ex) when (ex is not RpcException) { throw Translate(ex, context); }
    }

    private RpcException Translate(Exception ex, ServerCallContext context)
    {
        switch (ex)
        {
            case ArgumentException arg:
                string field = arg.ParamName ?? "request";
                string message = arg.ParamName is null ? arg.Message : arg.Message.Replace($" (Parameter '{arg.ParamName}')", "");
                logger.LogInformation("Rejected {Method}: invalid {Field}: {Reason}", context.Method, field, message);
                return new RpcException(new Status(StatusCode.InvalidArgument, $"{field}: {message}"));
            case OverloadedException overloaded:
                logger.LogWarning("Overloaded in {Method}: {Reason}", context.Method, overloaded.Message);
                return new RpcException(new Status(StatusCode.ResourceExhausted, overloaded.Message));
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                logger.LogInformation("Cancelled {Method}", context.Method);
                return new RpcException(new Status(StatusCode.Cancelled, "The call was cancelled."));
            case FileNotFoundException or DirectoryNotFoundException:
                logger.LogInformation("Not found in {Method}: {Reason}", context.Method, ex.Message);
                return new RpcException(new Status(StatusCode.NotFound, ex.Message));
            case NotImplementedException or NotSupportedException:
                return new RpcException(new Status(StatusCode.Unimplemented, ex.Message));
            default:
                logger.LogError(ex, "Unhandled error in {Method}", context.Method);
                return new RpcException(new Status(StatusCode.Internal, $"Internal error ({ex.GetType().Name}); see the service log."));
        }
    }
}
