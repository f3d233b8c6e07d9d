namespace TalkingFace.Storage;

/// <summary>Tells "the store is not reachable right now" (wait and retry) from a real error (missing object, bad data).</summary>
public static class StoreOutage
{
    public static bool IsOutage(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is ArtifactNotFoundException) return false;
            if (e is System.Net.Sockets.SocketException or HttpRequestException or Minio.Exceptions.ConnectionException
                or TimeoutException or System.IO.IOException)
                return true;
        }
        return false;
    }
}
