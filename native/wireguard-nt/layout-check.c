/*
 * Layout check for Trellis's wireguard-nt marshaller (src/helper/wg/wireguard-nt-abi.ts).
 *
 * The structs below are copied field for field from wireguard-nt's api/wireguard.h, with the
 * Windows types it uses typedef'd to fixed-width types of the same size (DWORD and ULONG are
 * 32 bits on Windows, also on x64), so a Linux gcc lays them out exactly as MSVC does on
 * Windows x64. The program prints sizeof/offsetof of every field, then serializes one fixed
 * sample configuration the way a C caller of WireGuardSetConfiguration would, as hex.
 * e2e/packaging.test.ts compiles it, runs it, and compares both with the TypeScript side.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Windows types (windef.h, ws2def.h, inaddr.h, in6addr.h, ws2ipdef.h) at their Windows sizes. */
typedef uint32_t DWORD;
typedef uint32_t ULONG;
typedef uint16_t WORD;
typedef uint16_t USHORT;
typedef uint8_t BYTE;
typedef uint8_t UCHAR;
typedef char CHAR;
typedef uint64_t DWORD64;
typedef USHORT ADDRESS_FAMILY;
#define AF_INET 2
#define AF_INET6 23

typedef struct in_addr_win {
    union {
        struct { UCHAR s_b1, s_b2, s_b3, s_b4; } S_un_b;
        struct { USHORT s_w1, s_w2; } S_un_w;
        ULONG S_addr;
    } S_un;
} IN_ADDR;

typedef struct in6_addr_win {
    union {
        UCHAR Byte[16];
        USHORT Word[8];
    } u;
} IN6_ADDR;

typedef union {
    struct { ULONG Zone : 28; ULONG Level : 4; };
    ULONG Value;
} SCOPE_ID;

typedef struct sockaddr_in_win {
    ADDRESS_FAMILY sin_family;
    USHORT sin_port;
    IN_ADDR sin_addr;
    CHAR sin_zero[8];
} SOCKADDR_IN;

typedef struct sockaddr_in6_win {
    ADDRESS_FAMILY sin6_family;
    USHORT sin6_port;
    ULONG sin6_flowinfo;
    IN6_ADDR sin6_addr;
    union {
        ULONG sin6_scope_id;
        SCOPE_ID sin6_scope_struct;
    };
} SOCKADDR_IN6;

typedef union _SOCKADDR_INET {
    SOCKADDR_IN Ipv4;
    SOCKADDR_IN6 Ipv6;
    ADDRESS_FAMILY si_family;
} SOCKADDR_INET;

/* From wireguard.h (GCC branch of its ALIGNED macro). */
#define ALIGNED(n) __attribute__((aligned(n)))
#define WIREGUARD_KEY_LENGTH 32

typedef struct _WIREGUARD_ALLOWED_IP WIREGUARD_ALLOWED_IP;
struct ALIGNED(8) _WIREGUARD_ALLOWED_IP
{
    union
    {
        IN_ADDR V4;
        IN6_ADDR V6;
    } Address;
    ADDRESS_FAMILY AddressFamily;
    BYTE Cidr;
};

typedef enum
{
    WIREGUARD_PEER_HAS_PUBLIC_KEY = 1 << 0,
    WIREGUARD_PEER_HAS_PRESHARED_KEY = 1 << 1,
    WIREGUARD_PEER_HAS_PERSISTENT_KEEPALIVE = 1 << 2,
    WIREGUARD_PEER_HAS_ENDPOINT = 1 << 3,
    WIREGUARD_PEER_REPLACE_ALLOWED_IPS = 1 << 5,
    WIREGUARD_PEER_REMOVE = 1 << 6,
    WIREGUARD_PEER_UPDATE_ONLY = 1 << 7
} WIREGUARD_PEER_FLAG;

typedef struct _WIREGUARD_PEER WIREGUARD_PEER;
struct ALIGNED(8) _WIREGUARD_PEER
{
    WIREGUARD_PEER_FLAG Flags;
    DWORD Reserved;
    BYTE PublicKey[WIREGUARD_KEY_LENGTH];
    BYTE PresharedKey[WIREGUARD_KEY_LENGTH];
    WORD PersistentKeepalive;
    SOCKADDR_INET Endpoint;
    DWORD64 TxBytes;
    DWORD64 RxBytes;
    DWORD64 LastHandshake;
    DWORD AllowedIPsCount;
};

typedef enum
{
    WIREGUARD_INTERFACE_HAS_PUBLIC_KEY = (1 << 0),
    WIREGUARD_INTERFACE_HAS_PRIVATE_KEY = (1 << 1),
    WIREGUARD_INTERFACE_HAS_LISTEN_PORT = (1 << 2),
    WIREGUARD_INTERFACE_REPLACE_PEERS = (1 << 3)
} WIREGUARD_INTERFACE_FLAG;

typedef struct _WIREGUARD_INTERFACE WIREGUARD_INTERFACE;
struct ALIGNED(8) _WIREGUARD_INTERFACE
{
    WIREGUARD_INTERFACE_FLAG Flags;
    WORD ListenPort;
    BYTE PrivateKey[WIREGUARD_KEY_LENGTH];
    BYTE PublicKey[WIREGUARD_KEY_LENGTH];
    DWORD PeersCount;
};

/* ------------------------------------------------------------------------------------------ */

#define SIZE(T) printf("size %s %zu\n", #T, sizeof(T))
#define ALIGN(T) printf("align %s %zu\n", #T, _Alignof(T))
#define OFF(T, F) printf("offset %s.%s %zu\n", #T, #F, offsetof(T, F))
#define OFF_AS(T, NAME, EXPR) printf("offset %s.%s %zu\n", #T, NAME, offsetof(T, EXPR))

static uint16_t be16(uint16_t v) { return (uint16_t)((v >> 8) | (v << 8)); }

static void fill(BYTE *key, BYTE first)
{
    for (int i = 0; i < WIREGUARD_KEY_LENGTH; i++)
        key[i] = (BYTE)(first + i);
}

/* The sample config of e2e/packaging.test.ts (SAMPLE_NT_CONFIG); keep the two in step. */
static size_t sample(BYTE *buf)
{
    BYTE *at = buf;
    WIREGUARD_INTERFACE *iface = (WIREGUARD_INTERFACE *)at;
    iface->Flags = WIREGUARD_INTERFACE_HAS_PRIVATE_KEY | WIREGUARD_INTERFACE_HAS_LISTEN_PORT |
                   WIREGUARD_INTERFACE_REPLACE_PEERS;
    iface->ListenPort = 41641;
    fill(iface->PrivateKey, 0x01);
    fill(iface->PublicKey, 0x80);
    iface->PeersCount = 2;
    at += sizeof(WIREGUARD_INTERFACE);

    WIREGUARD_PEER *p0 = (WIREGUARD_PEER *)at;
    p0->Flags = WIREGUARD_PEER_HAS_PUBLIC_KEY | WIREGUARD_PEER_HAS_ENDPOINT |
                WIREGUARD_PEER_HAS_PERSISTENT_KEEPALIVE | WIREGUARD_PEER_REPLACE_ALLOWED_IPS;
    fill(p0->PublicKey, 0x40);
    p0->PersistentKeepalive = 25;
    p0->Endpoint.Ipv4.sin_family = AF_INET;
    p0->Endpoint.Ipv4.sin_port = be16(51820);
    p0->Endpoint.Ipv4.sin_addr.S_un.S_un_b.s_b1 = 192;
    p0->Endpoint.Ipv4.sin_addr.S_un.S_un_b.s_b2 = 0;
    p0->Endpoint.Ipv4.sin_addr.S_un.S_un_b.s_b3 = 2;
    p0->Endpoint.Ipv4.sin_addr.S_un.S_un_b.s_b4 = 10;
    p0->TxBytes = 0x0102030405060708ULL;
    p0->RxBytes = 0x1112131415161718ULL;
    p0->LastHandshake = 133000000000000000ULL;
    p0->AllowedIPsCount = 2;
    at += sizeof(WIREGUARD_PEER);

    WIREGUARD_ALLOWED_IP *a = (WIREGUARD_ALLOWED_IP *)at;
    const BYTE v4[4] = { 100, 64, 0, 5 };
    memcpy(&a->Address.V4, v4, 4);
    a->AddressFamily = AF_INET;
    a->Cidr = 32;
    at += sizeof(WIREGUARD_ALLOWED_IP);

    a = (WIREGUARD_ALLOWED_IP *)at;
    const BYTE v6[16] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 };
    memcpy(a->Address.V6.u.Byte, v6, 16);
    a->AddressFamily = AF_INET6;
    a->Cidr = 128;
    at += sizeof(WIREGUARD_ALLOWED_IP);

    WIREGUARD_PEER *p1 = (WIREGUARD_PEER *)at;
    p1->Flags = WIREGUARD_PEER_HAS_PUBLIC_KEY | WIREGUARD_PEER_HAS_ENDPOINT | WIREGUARD_PEER_UPDATE_ONLY;
    fill(p1->PublicKey, 0xa0);
    const BYTE ep6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    p1->Endpoint.Ipv6.sin6_family = AF_INET6;
    p1->Endpoint.Ipv6.sin6_port = be16(41641);
    p1->Endpoint.Ipv6.sin6_flowinfo = 0x12345;
    memcpy(p1->Endpoint.Ipv6.sin6_addr.u.Byte, ep6, 16);
    p1->Endpoint.Ipv6.sin6_scope_id = 7;
    p1->AllowedIPsCount = 1;
    at += sizeof(WIREGUARD_PEER);

    a = (WIREGUARD_ALLOWED_IP *)at;
    const BYTE net[4] = { 10, 1, 0, 0 };
    memcpy(&a->Address.V4, net, 4);
    a->AddressFamily = AF_INET;
    a->Cidr = 16;
    at += sizeof(WIREGUARD_ALLOWED_IP);

    return (size_t)(at - buf);
}

int main(void)
{
    SIZE(WIREGUARD_ALLOWED_IP);
    ALIGN(WIREGUARD_ALLOWED_IP);
    OFF(WIREGUARD_ALLOWED_IP, Address);
    OFF(WIREGUARD_ALLOWED_IP, AddressFamily);
    OFF(WIREGUARD_ALLOWED_IP, Cidr);

    SIZE(WIREGUARD_PEER);
    ALIGN(WIREGUARD_PEER);
    OFF(WIREGUARD_PEER, Flags);
    OFF(WIREGUARD_PEER, Reserved);
    OFF(WIREGUARD_PEER, PublicKey);
    OFF(WIREGUARD_PEER, PresharedKey);
    OFF(WIREGUARD_PEER, PersistentKeepalive);
    OFF(WIREGUARD_PEER, Endpoint);
    OFF(WIREGUARD_PEER, TxBytes);
    OFF(WIREGUARD_PEER, RxBytes);
    OFF(WIREGUARD_PEER, LastHandshake);
    OFF(WIREGUARD_PEER, AllowedIPsCount);

    SIZE(WIREGUARD_INTERFACE);
    ALIGN(WIREGUARD_INTERFACE);
    OFF(WIREGUARD_INTERFACE, Flags);
    OFF(WIREGUARD_INTERFACE, ListenPort);
    OFF(WIREGUARD_INTERFACE, PrivateKey);
    OFF(WIREGUARD_INTERFACE, PublicKey);
    OFF(WIREGUARD_INTERFACE, PeersCount);

    SIZE(SOCKADDR_INET);
    ALIGN(SOCKADDR_INET);
    OFF(SOCKADDR_INET, si_family);
    OFF_AS(SOCKADDR_INET, "sin_port", Ipv4.sin_port);
    OFF_AS(SOCKADDR_INET, "sin_addr", Ipv4.sin_addr);
    OFF_AS(SOCKADDR_INET, "sin6_port", Ipv6.sin6_port);
    OFF_AS(SOCKADDR_INET, "sin6_flowinfo", Ipv6.sin6_flowinfo);
    OFF_AS(SOCKADDR_INET, "sin6_addr", Ipv6.sin6_addr);
    OFF_AS(SOCKADDR_INET, "sin6_scope_id", Ipv6.sin6_scope_id);

    /* 8-aligned and zeroed, as a caller would allocate it (padding and Reserved stay zero). */
    BYTE *buf = aligned_alloc(8, 4096);
    if (!buf)
        return 1;
    memset(buf, 0, 4096);
    size_t n = sample(buf);
    printf("hex ");
    for (size_t i = 0; i < n; i++)
        printf("%02x", buf[i]);
    printf("\n");
    free(buf);
    return 0;
}
