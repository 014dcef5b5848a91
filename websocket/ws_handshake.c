/*
 * ws_handshake.c - the pure computations of the opening and closing
 * handshakes: the Sec-WebSocket-Accept value (RFC 6455 4.2.2), the shape
 * of a Sec-WebSocket-Key (4.1), and which close codes may travel on the
 * wire (7.4).
 *
 * The HTTP side of the handshake (checking Upgrade, Connection, Version,
 * Origin, sending 101) is the runtime's; it calls these functions.
 */
#include "websocket.h"

#include <openssl/evp.h>
#include <string.h>

/* The fixed GUID every server appends to the client's key (1.3). */
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#define SHA1_LEN 20

/* accept = base64(SHA-1(key + GUID)): 20 bytes -> 28 characters + NUL.
 * On an (unlikely) OpenSSL failure, out is the empty string, which no
 * client will accept. */
void ws_handshake_accept(const char *key, char out[29])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx
              && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL)
              && EVP_DigestUpdate(ctx, key, strlen(key))
              && EVP_DigestUpdate(ctx, WS_GUID, sizeof WS_GUID - 1)
              && EVP_DigestFinal_ex(ctx, digest, &digest_len)
              && digest_len == SHA1_LEN;
    EVP_MD_CTX_free(ctx);
    out[0] = '\0';
    if (ok)
        EVP_EncodeBlock((unsigned char *)out, digest, SHA1_LEN);
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* 16 bytes in base64 are 22 characters of data and "==" of padding. */
bool ws_handshake_key_valid(const char *key)
{
    if (!key || strlen(key) != 24)
        return false;
    for (int i = 0; i < 22; i++)
        if (!is_base64_char(key[i]))
            return false;
    return key[22] == '=' && key[23] == '=';
}

/*
 * Codes an endpoint may send (7.4.1, 7.4.2 and the IANA registry):
 * 1000-1003 and 1007-1014 are defined; 1004 is reserved; 1005, 1006 and
 * 1015 are for reporting only and never sent; 3000-3999 are registered
 * for libraries, 4000-4999 private. Everything else is invalid.
 */
bool ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003)
           || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}
