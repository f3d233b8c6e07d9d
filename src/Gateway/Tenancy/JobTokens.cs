using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace TalkingFace.Gateway.Tenancy;

/// <summary>
/// Short-lived read tokens for one job (<c>?access_token=...</c> on the routes marked <see cref="AcceptsJobToken"/>:
/// the job, its event stream, its artifacts), for browsers, whose EventSource, video and download links cannot send an
/// API key header. A token names the job, the API key it was issued under and when it expires, signed with HMAC-SHA256
/// under a secret derived from that key's stored hash: any gateway replica can check it without shared configuration,
/// it reads that one job and nothing else (no other job, no listing, no cancel, no submit), and revoking the key ends
/// its tokens too.
/// </summary>
public static class JobTokens
{
    public const string Prefix = "tfs_";
    public const string QueryName = "access_token";
    private const int PayloadLength = 16 + 16 + 8;

    public sealed record Claims(Guid JobId, Guid KeyId, DateTimeOffset ExpiresAt);

    public static string Issue(Guid jobId, KnownKey key, DateTimeOffset expiresAt)
    {
        var payload = new byte[PayloadLength];
        jobId.TryWriteBytes(payload.AsSpan(0, 16));
        key.KeyId.TryWriteBytes(payload.AsSpan(16, 16));
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(32), expiresAt.ToUnixTimeSeconds());
        return Prefix + WebEncoders.Base64UrlEncode(payload) + "." + WebEncoders.Base64UrlEncode(Mac(key.Hash, payload));
    }

    /// <summary>What a well-formed token says, before its signature is checked (that needs the key: <see cref="Verify"/>).</summary>
    public static Claims? Read(string token)
    {
        if (token.Length > 200 || !token.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0) return null;
        var payload = Decode(token[Prefix.Length..dot]);
        if (payload is not { Length: PayloadLength }) return null;
        return new Claims(new Guid(payload.AsSpan(0, 16)), new Guid(payload.AsSpan(16, 16)),
            DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(32)), 0, 253402300799)));
    }

    /// <summary>True when the token was issued under <paramref name="key"/> (constant-time comparison).</summary>
    public static bool Verify(string token, KnownKey key)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        var payload = Decode(token[Prefix.Length..dot]);
        var mac = Decode(token[(dot + 1)..]);
        return payload is not null && mac is not null && CryptographicOperations.FixedTimeEquals(mac, Mac(key.Hash, payload));
    }

    private static byte[] Mac(string keyHash, byte[] payload) =>
        HMACSHA256.HashData(SHA256.HashData(Encoding.UTF8.GetBytes("talkingface stream token|" + keyHash)), payload);

    private static byte[]? Decode(string text)
    {
        try
        {
            return WebEncoders.Base64UrlDecode(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
