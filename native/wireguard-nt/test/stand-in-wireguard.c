/*
 * A stand-in for wireguard.dll, built as a Linux shared library by e2e/packaging.test.ts so the
 * koffi bindings (src/helper/wg/wireguard-nt-ffi.ts) make real native calls here, where the
 * Windows driver cannot run. It exports the same seven functions with the same signatures
 * (Windows types at their Windows sizes) and the simplest behaviour that exercises them:
 * adapters live in a small table keyed by their UTF-16 name, SetConfiguration stores the
 * buffer it is given and GetConfiguration returns it (with the ERROR_MORE_DATA protocol), the
 * logger is called on every state change. StandInGetLastError plays kernel32's GetLastError.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t DWORD;
typedef int BOOL;
typedef uint16_t WCHAR;
typedef uint64_t DWORD64;
typedef struct { uint32_t Data1; uint16_t Data2; uint16_t Data3; uint8_t Data4[8]; } GUID;
typedef void (*WIREGUARD_LOGGER_CALLBACK)(int Level, DWORD64 Timestamp, const WCHAR *Message);

#define ERROR_FILE_NOT_FOUND 2
#define ERROR_INVALID_PARAMETER 87
#define ERROR_MORE_DATA 234
#define ERROR_ALREADY_EXISTS 183
#define MAX_NAME 128
#define MAX_ADAPTERS 8

typedef struct {
    int used;
    WCHAR name[MAX_NAME];
    GUID guid;
    int state;
    uint8_t *config;
    DWORD config_bytes;
} ADAPTER;

static ADAPTER adapters[MAX_ADAPTERS];
static DWORD last_error;
static WIREGUARD_LOGGER_CALLBACK logger;

DWORD StandInGetLastError(void) { return last_error; }

static size_t wlen(const WCHAR *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static ADAPTER *find(const WCHAR *name)
{
    size_t n = wlen(name);
    for (int i = 0; i < MAX_ADAPTERS; i++)
        if (adapters[i].used && wlen(adapters[i].name) == n && !memcmp(adapters[i].name, name, n * 2))
            return &adapters[i];
    return NULL;
}

static void say(const char *text)
{
    WCHAR msg[64];
    size_t i = 0;
    for (; text[i] && i < 63; i++)
        msg[i] = (WCHAR)text[i];
    msg[i] = 0;
    if (logger)
        logger(0, 133000000000000000ULL, msg);
}

ADAPTER *WireGuardCreateAdapter(const WCHAR *Name, const WCHAR *TunnelType, const GUID *RequestedGUID)
{
    (void)TunnelType;
    if (!Name || wlen(Name) >= MAX_NAME) {
        last_error = ERROR_INVALID_PARAMETER;
        return NULL;
    }
    if (find(Name)) {
        last_error = ERROR_ALREADY_EXISTS;
        return NULL;
    }
    for (int i = 0; i < MAX_ADAPTERS; i++) {
        if (!adapters[i].used) {
            memset(&adapters[i], 0, sizeof(adapters[i]));
            adapters[i].used = 1;
            memcpy(adapters[i].name, Name, (wlen(Name) + 1) * 2);
            if (RequestedGUID)
                adapters[i].guid = *RequestedGUID;
            return &adapters[i];
        }
    }
    last_error = ERROR_INVALID_PARAMETER;
    return NULL;
}

ADAPTER *WireGuardOpenAdapter(const WCHAR *Name)
{
    ADAPTER *a = Name ? find(Name) : NULL;
    if (!a)
        last_error = ERROR_FILE_NOT_FOUND;
    return a;
}

void WireGuardCloseAdapter(ADAPTER *Adapter)
{
    if (!Adapter)
        return;
    free(Adapter->config);
    memset(Adapter, 0, sizeof(*Adapter));
}

BOOL WireGuardSetConfiguration(ADAPTER *Adapter, const void *Config, DWORD Bytes)
{
    if (!Adapter || !Config || Bytes < 80) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    uint8_t *copy = malloc(Bytes);
    if (!copy)
        return 0;
    memcpy(copy, Config, Bytes);
    free(Adapter->config);
    Adapter->config = copy;
    Adapter->config_bytes = Bytes;
    return 1;
}

BOOL WireGuardGetConfiguration(ADAPTER *Adapter, void *Config, DWORD *Bytes)
{
    if (!Adapter || !Bytes || !Adapter->config) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    if (*Bytes < Adapter->config_bytes) {
        *Bytes = Adapter->config_bytes;
        last_error = ERROR_MORE_DATA;
        return 0;
    }
    memcpy(Config, Adapter->config, Adapter->config_bytes);
    *Bytes = Adapter->config_bytes;
    return 1;
}

BOOL WireGuardSetAdapterState(ADAPTER *Adapter, int State)
{
    if (!Adapter || (State != 0 && State != 1)) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    Adapter->state = State;
    say(State ? "adapter up" : "adapter down");
    return 1;
}

void WireGuardSetLogger(WIREGUARD_LOGGER_CALLBACK NewLogger) { logger = NewLogger; }

/* For the test: what the library saw. */
int StandInAdapterState(const WCHAR *Name)
{
    ADAPTER *a = find(Name);
    return a ? a->state : -1;
}

BOOL StandInAdapterGuid(const WCHAR *Name, GUID *Out)
{
    ADAPTER *a = find(Name);
    if (!a)
        return 0;
    *Out = a->guid;
    return 1;
}
