using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

// Exit code 0 when grpc.health.v1.Health/Check answers SERVING, 1 otherwise (unreachable, NOT_SERVING,
// any gRPC error). Arguments: [address] [service]; the address defaults to the container's own gRPC
// port (CAI_GRPC_PORT, else 8080) on loopback, the service to "" (the whole server).
// A hand-built unary call over HTTP/2 without TLS, so the probe needs nothing beyond the runtime.
string port = Environment.GetEnvironmentVariable("CAI_GRPC_PORT") is { Length: > 0 } p ? p : "8080";
string address = args.Length > 0 ? args[0].TrimEnd('/') : $"http://127.0.0.1:{port}";
string service = args.Length > 1 ? args[1] : "";

try
{
    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(4) };
    using var request = new HttpRequestMessage(HttpMethod.Post, $"{address}/grpc.health.v1.Health/Check")
    {
        Version = HttpVersion.Version20,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Content = new ByteArrayContent(Frame(HealthCheckRequest(service))),
    };
    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
    request.Headers.TryAddWithoutValidation("te", "trailers");
    request.Headers.TryAddWithoutValidation("grpc-timeout", "3S");
    using var response = await http.SendAsync(request);
    byte[] body = await response.Content.ReadAsByteArrayAsync();
    string status = Header(response, "grpc-status") ?? "missing";
    if (status != "0")
    {
        Console.Error.WriteLine($"unhealthy: grpc-status {status} {Header(response, "grpc-message")}");
        return 1;
    }
    int serving = ServingStatus(body);
    Console.WriteLine(serving == 1 ? "SERVING" : $"unhealthy: serving status {serving}");
    return serving == 1 ? 0 : 1;
}
catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
{
    Console.Error.WriteLine($"unhealthy: {ex.GetType().Name}: {ex.Message}");
    return 1;
}

// HealthCheckRequest { string service = 1; }
static byte[] HealthCheckRequest(string service)
{
    if (service.Length == 0) return [];
    byte[] name = Encoding.UTF8.GetBytes(service);
    if (name.Length > 127) throw new ArgumentException("service name too long for the probe", nameof(service));
    return [0x0A, (byte)name.Length, .. name];
}

// gRPC length-prefixed message: no compression, 4-byte big-endian length.
static byte[] Frame(byte[] message)
{
    var frame = new byte[5 + message.Length];
    BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
    message.CopyTo(frame, 5);
    return frame;
}

// HealthCheckResponse { ServingStatus status = 1; } -> the status (0 UNKNOWN when absent, -1 malformed).
static int ServingStatus(byte[] body)
{
    if (body.Length < 5) return -1;
    int length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1));
    if (body[0] != 0 || body.Length < 5 + length) return -1;
    var message = body.AsSpan(5, length);
    if (message.Length == 0) return 0; // proto3 omits the default (UNKNOWN)
    // Field 1 as a varint (tag 0x08); every serving status is < 128, so one byte.
    return message.Length >= 2 && message[0] == 0x08 ? message[1] : -1;
}

static string? Header(HttpResponseMessage response, string name) =>
    response.TrailingHeaders.TryGetValues(name, out var trailing) ? trailing.FirstOrDefault()
    : response.Headers.TryGetValues(name, out var leading) ? leading.FirstOrDefault() : null;
