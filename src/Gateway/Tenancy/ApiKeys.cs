using System.Security.Cryptography;
using System.Text;

namespace TalkingFace.Gateway.Tenancy;

/// <summary>Makes and hashes API keys: <c>tfk_</c> + 43 characters of base64url (256 random bits).</summary>
public static class ApiKeys
{
    public const string KeyPrefix = "tfk_";
    public const int ShownPrefixLength = 12;

    public static string NewKey() => KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// SHA-256 of the key. A plain hash suffices (no PBKDF2): keys are 256 random bits, so there is nothing to
    /// brute-force, and a fast hash lets every request be checked without a cost per call.
    /// </summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static bool LooksLikeKey(string key) => key.StartsWith(KeyPrefix, StringComparison.Ordinal) && key.Length is > 20 and < 200;

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
