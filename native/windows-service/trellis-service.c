/*
 * trellis-service.exe: runs trellisd, the Trellis helper, as a Windows service.
 *
 * Node.js does not speak the Service Control Manager's protocol, so this small host does: it
 * registers with the SCM (StartServiceCtrlDispatcherW, RegisterServiceCtrlHandlerExW), starts
 * the helper's command line as a child process inside a Job object that kills it when the host
 * goes away, and reports START_PENDING -> RUNNING -> STOP_PENDING -> STOPPED with wait hints.
 *
 *   trellis-service.exe [--name NAME] [--log-dir DIR] [--stop-timeout SECONDS] [--console]
 *                       -- CHILD COMMAND LINE
 *
 * Everything after " -- " is the child's command line, passed to CreateProcessW verbatim (a
 * .cmd/.bat program runs through %SystemRoot%\System32\cmd.exe /d /s /c, as CreateProcessW's
 * documentation asks). The host's own options are split on spaces; a value with spaces goes in
 * double quotes (no escapes: Windows paths hold no quotes).
 *
 * Stop: the child's stdin is a pipe whose write end only the host holds. On STOP or SHUTDOWN
 * the host closes it; trellisd --stop-on-stdin-close then stops as on SIGTERM (tunnels, routes
 * and DNS restored). After --stop-timeout seconds the job is terminated.
 * A child that exits on its own is a failure: the host reports SERVICE_STOPPED with
 * ERROR_SERVICE_SPECIFIC_ERROR and the child's exit code, so the SCM's recovery actions
 * (sc.exe failure + failureflag) restart the service.
 *
 * Logs: DIR\service.log (this host) and DIR\trellisd.log (the child's stdout and stderr),
 * DIR defaulting to %ProgramData%\Trellis\logs. Each is moved to *.1 when it passes 10 MiB at
 * start.
 *
 * --console runs the same supervision in the foreground without the SCM (Ctrl+C stops it), for
 * trying the command line by hand.
 *
 * Built freestanding (no C runtime): the executable imports from kernel32 and advapi32 only,
 * so it needs nothing besides Windows. See README.md for the build.
 */
#define WIN32_LEAN_AND_MEAN
#ifndef UNICODE
#define UNICODE
#endif
#ifndef _UNICODE
#define _UNICODE
#endif
#include <windows.h>

/* The SCM allows 30 s per wait hint; the helper's own stop deadline is 20 s. */
#define DEFAULT_STOP_TIMEOUT_S 25u
/* How often STOP_PENDING is re-reported (with the checkpoint increased) while waiting. */
#define STOP_POLL_MS 2000u
#define START_WAIT_HINT_MS 10000u
/* Log files past this size at start are moved aside (one generation kept). */
#define LOG_ROTATE_BYTES (10u * 1024u * 1024u)
#define MAX_OPT 1024
/* A service-specific exit code for "the child ran but did not report an exit code of its own". */
#define EXIT_CHILD_EXITED_ZERO 1u
/* Exit codes of the process itself in --console mode and for usage errors. */
#define EXIT_USAGE 2u

/* ----------------------------------------------------------------------------------------- */
/* What the compiler may call on its own in a freestanding build. */

void *memset(void *dst, int c, SIZE_T n);
void *memcpy(void *dst, const void *src, SIZE_T n);

void *memset(void *dst, int c, SIZE_T n) {
  volatile unsigned char *d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

void *memcpy(void *dst, const void *src, SIZE_T n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
  return dst;
}

/* ----------------------------------------------------------------------------------------- */
/* Small wide-string buffer. */

typedef struct {
  WCHAR s[2048];
  int n;
} Buf;

static void buf_add(Buf *b, const WCHAR *text) {
  while (*text && b->n < (int)(sizeof b->s / sizeof b->s[0]) - 1) b->s[b->n++] = *text++;
  b->s[b->n] = 0;
}

static void buf_num(Buf *b, DWORD v, int width) {
  WCHAR digits[16];
  int i = 0;
  do {
    digits[i++] = (WCHAR)(L'0' + v % 10);
    v /= 10;
  } while (v && i < 15);
  while (i < width && i < 15) digits[i++] = L'0';
  WCHAR out[16];
  int j = 0;
  while (i) out[j++] = digits[--i];
  out[j] = 0;
  buf_add(b, out);
}

static int wlen(const WCHAR *s) { return lstrlenW(s); }

static int wieq_tail(const WCHAR *s, int n, const WCHAR *tail) {
  int t = wlen(tail);
  if (n < t) return 0;
  return CompareStringOrdinal(s + n - t, t, tail, t, TRUE) == CSTR_EQUAL;
}

/* ----------------------------------------------------------------------------------------- */
/* Configuration from the host's own command line. */

typedef struct {
  WCHAR name[MAX_OPT];
  WCHAR log_dir[MAX_OPT];
  DWORD stop_timeout_s;
  BOOL console;
  WCHAR *child; /* the child's command line (heap, writable as CreateProcessW needs) */
} Config;

static Config cfg;

/* Reads one space-separated token (double quotes group, and are dropped). */
static const WCHAR *next_token(const WCHAR *p, WCHAR *out, int cap, BOOL *had) {
  while (*p == L' ' || *p == L'\t') p++;
  *had = *p != 0;
  int n = 0;
  BOOL quoted = FALSE;
  while (*p && (quoted || (*p != L' ' && *p != L'\t'))) {
    if (*p == L'"') quoted = !quoted;
    else if (n < cap - 1) out[n++] = *p;
    p++;
  }
  out[n] = 0;
  return p;
}

static BOOL parse_uint(const WCHAR *s, DWORD *out) {
  DWORD v = 0;
  if (!*s) return FALSE;
  for (; *s; s++) {
    if (*s < L'0' || *s > L'9' || v > 100000) return FALSE;
    v = v * 10 + (DWORD)(*s - L'0');
  }
  *out = v;
  return TRUE;
}

/* NULL on success, else what is wrong. */
static const WCHAR *parse_config(const WCHAR *cmdline) {
  lstrcpynW(cfg.name, L"trellisd", MAX_OPT);
  cfg.log_dir[0] = 0;
  cfg.stop_timeout_s = DEFAULT_STOP_TIMEOUT_S;
  cfg.console = FALSE;
  cfg.child = NULL;

  WCHAR tok[MAX_OPT];
  BOOL had;
  const WCHAR *p = next_token(cmdline, tok, MAX_OPT, &had); /* argv[0] */
  for (;;) {
    p = next_token(p, tok, MAX_OPT, &had);
    if (!had) return L"no child command line: put it after --";
    if (lstrcmpW(tok, L"--") == 0) break;
    if (lstrcmpW(tok, L"--console") == 0) {
      cfg.console = TRUE;
      continue;
    }
    WCHAR *dest = NULL;
    if (lstrcmpW(tok, L"--name") == 0) dest = cfg.name;
    else if (lstrcmpW(tok, L"--log-dir") == 0) dest = cfg.log_dir;
    else if (lstrcmpW(tok, L"--stop-timeout") != 0) return L"unknown option before --";
    WCHAR value[MAX_OPT];
    p = next_token(p, value, MAX_OPT, &had);
    if (!had) return L"an option is missing its value";
    if (dest) {
      if (!value[0]) return L"--name and --log-dir must not be empty";
      lstrcpynW(dest, value, MAX_OPT);
    } else if (!parse_uint(value, &cfg.stop_timeout_s) || cfg.stop_timeout_s == 0 ||
               cfg.stop_timeout_s > 600) {
      return L"--stop-timeout must be 1-600 seconds";
    }
  }
  while (*p == L' ' || *p == L'\t') p++;
  if (!*p) return L"the child command line after -- is empty";

  /* The program is the first token of the child command line. */
  WCHAR program[MAX_OPT];
  next_token(p, program, MAX_OPT, &had);
  int plen = wlen(program);
  BOOL batch = wieq_tail(program, plen, L".cmd") || wieq_tail(program, plen, L".bat");

  int rest = wlen(p);
  int cap = rest + MAX_PATH + 32;
  cfg.child = HeapAlloc(GetProcessHeap(), 0, (SIZE_T)cap * sizeof(WCHAR));
  if (!cfg.child) return L"out of memory";
  cfg.child[0] = 0;
  if (batch) {
    /* "C:\Windows\System32\cmd.exe" /d /s /c "<child command line>": /s makes cmd drop
       exactly the outer quotes, so the line inside runs as written. */
    WCHAR sys[MAX_PATH];
    UINT n = GetSystemDirectoryW(sys, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return L"GetSystemDirectoryW failed";
    lstrcatW(cfg.child, L"\"");
    lstrcatW(cfg.child, sys);
    lstrcatW(cfg.child, L"\\cmd.exe\" /d /s /c \"");
    lstrcatW(cfg.child, p);
    lstrcatW(cfg.child, L"\"");
  } else {
    lstrcatW(cfg.child, p);
  }

  if (!cfg.log_dir[0]) {
    WCHAR pd[MAX_PATH];
    DWORD n = GetEnvironmentVariableW(L"ProgramData", pd, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return L"%ProgramData% is not set: pass --log-dir";
    Buf b = {.n = 0};
    buf_add(&b, pd);
    buf_add(&b, L"\\Trellis\\logs");
    lstrcpynW(cfg.log_dir, b.s, MAX_OPT);
  }
  return NULL;
}

/* ----------------------------------------------------------------------------------------- */
/* Logging. */

static HANDLE service_log = INVALID_HANDLE_VALUE;
static CRITICAL_SECTION log_lock;

/* Creates DIR and its missing parents (one level of %ProgramData%\Trellis\logs at a time). */
static void make_dirs(const WCHAR *dir) {
  WCHAR path[MAX_OPT];
  lstrcpynW(path, dir, MAX_OPT);
  for (WCHAR *c = path; *c; c++) {
    if ((*c == L'\\' || *c == L'/') && c > path && c[-1] != L':' && c[-1] != L'\\') {
      WCHAR saved = *c;
      *c = 0;
      CreateDirectoryW(path, NULL);
      *c = saved;
    }
  }
  CreateDirectoryW(path, NULL);
}

static void log_path(Buf *b, const WCHAR *file) {
  b->n = 0;
  b->s[0] = 0;
  buf_add(b, cfg.log_dir);
  buf_add(b, L"\\");
  buf_add(b, file);
}

/* Opens DIR\file for appending, inheritable when the child writes to it. */
static HANDLE open_log(const WCHAR *file, BOOL inheritable) {
  Buf path, old;
  log_path(&path, file);
  WIN32_FILE_ATTRIBUTE_DATA attr;
  if (GetFileAttributesExW(path.s, GetFileExInfoStandard, &attr) &&
      (attr.nFileSizeHigh > 0 || attr.nFileSizeLow > LOG_ROTATE_BYTES)) {
    old = path;
    buf_add(&old, L".1");
    MoveFileExW(path.s, old.s, MOVEFILE_REPLACE_EXISTING);
  }
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, inheritable};
  return CreateFileW(path.s, FILE_APPEND_DATA | SYNCHRONIZE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                     &sa, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
}

static void write_utf8(HANDLE h, const WCHAR *s, int n) {
  if (h == INVALID_HANDLE_VALUE || h == NULL) return;
  char out[4 * 2048];
  int m = WideCharToMultiByte(CP_UTF8, 0, s, n, out, (int)sizeof out, NULL, NULL);
  DWORD written;
  if (m > 0) WriteFile(h, out, (DWORD)m, &written, NULL);
}

/* One line: "2024-01-02 03:04:05.678 trellis-service: <msg>[: <detail>][ (error N)]". */
static void log_line(const WCHAR *msg, const WCHAR *detail, DWORD error) {
  SYSTEMTIME t;
  GetLocalTime(&t);
  Buf b = {.n = 0};
  buf_num(&b, t.wYear, 4);
  buf_add(&b, L"-");
  buf_num(&b, t.wMonth, 2);
  buf_add(&b, L"-");
  buf_num(&b, t.wDay, 2);
  buf_add(&b, L" ");
  buf_num(&b, t.wHour, 2);
  buf_add(&b, L":");
  buf_num(&b, t.wMinute, 2);
  buf_add(&b, L":");
  buf_num(&b, t.wSecond, 2);
  buf_add(&b, L".");
  buf_num(&b, t.wMilliseconds, 3);
  buf_add(&b, L" trellis-service: ");
  buf_add(&b, msg);
  if (detail) {
    buf_add(&b, L": ");
    buf_add(&b, detail);
  }
  if (error) {
    buf_add(&b, L" (error ");
    buf_num(&b, error, 1);
    buf_add(&b, L")");
  }
  buf_add(&b, L"\r\n");
  EnterCriticalSection(&log_lock);
  write_utf8(service_log, b.s, b.n);
  if (cfg.console) write_utf8(GetStdHandle(STD_ERROR_HANDLE), b.s, b.n);
  LeaveCriticalSection(&log_lock);
}

/* ----------------------------------------------------------------------------------------- */
/* Service status. */

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;

static void report(DWORD state, DWORD win32_exit, DWORD specific_exit, DWORD wait_hint) {
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = state;
  status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  status.dwWin32ExitCode = win32_exit;
  status.dwServiceSpecificExitCode = specific_exit;
  status.dwWaitHint = wait_hint;
  if (state == SERVICE_RUNNING || state == SERVICE_STOPPED) status.dwCheckPoint = 0;
  else status.dwCheckPoint++;
  if (status_handle) SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, LPVOID data, LPVOID ctx) {
  (void)type;
  (void)data;
  (void)ctx;
  switch (control) {
  case SERVICE_CONTROL_STOP:
  case SERVICE_CONTROL_SHUTDOWN:
    report(SERVICE_STOP_PENDING, NO_ERROR, 0, cfg.stop_timeout_s * 1000u + STOP_POLL_MS);
    SetEvent(stop_event);
    return NO_ERROR;
  case SERVICE_CONTROL_INTERROGATE:
    return NO_ERROR;
  default:
    return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

static BOOL WINAPI console_handler(DWORD type) {
  (void)type;
  SetEvent(stop_event);
  return TRUE;
}

/* ----------------------------------------------------------------------------------------- */
/* The child. */

typedef struct {
  HANDLE job;
  HANDLE process;
  HANDLE stdin_write; /* closing it asks the child to stop */
} Child;

static DWORD start_child(Child *c) {
  c->job = c->process = c->stdin_write = NULL;
  DWORD err;
  c->job = CreateJobObjectW(NULL, NULL);
  if (!c->job) return GetLastError();
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  memset(&limits, 0, sizeof limits);
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(c->job, JobObjectExtendedLimitInformation, &limits,
                               sizeof limits))
    return GetLastError();

  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  HANDLE stdin_read;
  if (!CreatePipe(&stdin_read, &c->stdin_write, &inherit, 0)) return GetLastError();
  /* Only the child's end is inherited. */
  SetHandleInformation(c->stdin_write, HANDLE_FLAG_INHERIT, 0);
  HANDLE out = open_log(L"trellisd.log", TRUE);
  if (out == INVALID_HANDLE_VALUE) {
    err = GetLastError();
    CloseHandle(stdin_read);
    return err;
  }

  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = stdin_read;
  si.hStdOutput = out;
  si.hStdError = out;
  PROCESS_INFORMATION pi;
  memset(&pi, 0, sizeof pi);
  /* Suspended until it is in the job, so nothing it starts escapes the job. */
  BOOL ok = CreateProcessW(NULL, cfg.child, NULL, NULL, TRUE,
                           CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT,
                           NULL, NULL, &si, &pi);
  err = ok ? NO_ERROR : GetLastError();
  CloseHandle(stdin_read);
  CloseHandle(out);
  if (!ok) return err;
  if (!AssignProcessToJobObject(c->job, pi.hProcess)) {
    err = GetLastError();
    TerminateProcess(pi.hProcess, 1);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return err;
  }
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  c->process = pi.hProcess;
  return NO_ERROR;
}

/* Closes the child's stdin and waits for it, reporting STOP_PENDING; then ends the job. */
static void stop_child(Child *c) {
  log_line(L"stopping the helper (closing its stdin)", NULL, 0);
  CloseHandle(c->stdin_write);
  c->stdin_write = NULL;
  DWORD waited = 0;
  DWORD limit = cfg.stop_timeout_s * 1000u;
  while (waited < limit) {
    if (WaitForSingleObject(c->process, STOP_POLL_MS) == WAIT_OBJECT_0) {
      DWORD code = 0;
      GetExitCodeProcess(c->process, &code);
      Buf b = {.n = 0};
      buf_num(&b, code, 1);
      log_line(L"the helper stopped, exit code", b.s, 0);
      break;
    }
    waited += STOP_POLL_MS;
    report(SERVICE_STOP_PENDING, NO_ERROR, 0, limit - waited + STOP_POLL_MS);
  }
  if (waited >= limit) log_line(L"the helper did not stop in time; terminating it", NULL, 0);
  /* Ends the child and anything it started (wireguard-nt is in-process; cmd.exe may linger). */
  TerminateJobObject(c->job, 1);
}

static void close_child(Child *c) {
  if (c->stdin_write) CloseHandle(c->stdin_write);
  if (c->process) CloseHandle(c->process);
  if (c->job) CloseHandle(c->job);
}

/* Runs the child until a stop is asked or it exits. Returns the service's exit status. */
static void supervise(DWORD *win32_exit, DWORD *specific_exit) {
  Child c;
  *win32_exit = NO_ERROR;
  *specific_exit = 0;
  log_line(L"starting", cfg.child, 0);
  DWORD err = start_child(&c);
  if (err != NO_ERROR) {
    log_line(L"could not start the helper", cfg.child, err);
    close_child(&c);
    *win32_exit = err;
    return;
  }
  report(SERVICE_RUNNING, NO_ERROR, 0, 0);
  log_line(L"running", NULL, 0);

  HANDLE waits[2] = {stop_event, c.process};
  DWORD w = WaitForMultipleObjects(2, waits, FALSE, INFINITE);
  if (w == WAIT_OBJECT_0) {
    stop_child(&c);
  } else {
    DWORD code = 0;
    GetExitCodeProcess(c.process, &code);
    Buf b = {.n = 0};
    buf_num(&b, code, 1);
    log_line(L"the helper exited on its own, exit code", b.s, 0);
    TerminateJobObject(c.job, 1);
    /* A failure whatever the code, so the SCM's recovery actions apply. */
    *win32_exit = ERROR_SERVICE_SPECIFIC_ERROR;
    *specific_exit = code != 0 ? code : EXIT_CHILD_EXITED_ZERO;
  }
  close_child(&c);
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv) {
  (void)argc;
  (void)argv;
  status_handle = RegisterServiceCtrlHandlerExW(cfg.name, control_handler, NULL);
  if (!status_handle) {
    log_line(L"RegisterServiceCtrlHandlerExW failed", NULL, GetLastError());
    return;
  }
  report(SERVICE_START_PENDING, NO_ERROR, 0, START_WAIT_HINT_MS);
  DWORD win32_exit, specific_exit;
  supervise(&win32_exit, &specific_exit);
  log_line(L"stopped", NULL, win32_exit == ERROR_SERVICE_SPECIFIC_ERROR ? specific_exit : 0);
  report(SERVICE_STOPPED, win32_exit, specific_exit, 0);
}

static void console_write(const WCHAR *s) {
  write_utf8(GetStdHandle(STD_ERROR_HANDLE), s, wlen(s));
}

void entry(void);
void entry(void) {
  InitializeCriticalSection(&log_lock);
  const WCHAR *problem = parse_config(GetCommandLineW());
  if (problem) {
    console_write(L"trellis-service: ");
    console_write(problem);
    console_write(L"\r\nusage: trellis-service.exe [--name NAME] [--log-dir DIR] "
                  L"[--stop-timeout SECONDS] [--console] -- CHILD COMMAND LINE\r\n");
    ExitProcess(EXIT_USAGE);
  }
  make_dirs(cfg.log_dir);
  service_log = open_log(L"service.log", FALSE);
  stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!stop_event) ExitProcess(GetLastError());

  if (cfg.console) {
    SetConsoleCtrlHandler(console_handler, TRUE);
    DWORD win32_exit, specific_exit;
    supervise(&win32_exit, &specific_exit);
    ExitProcess(win32_exit == ERROR_SERVICE_SPECIFIC_ERROR ? specific_exit : win32_exit);
  }

  SERVICE_TABLE_ENTRYW table[] = {{cfg.name, service_main}, {NULL, NULL}};
  if (!StartServiceCtrlDispatcherW(table)) {
    DWORD err = GetLastError();
    if (err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
      console_write(L"trellis-service: not started by the Service Control Manager; "
                    L"use --console to run in the foreground\r\n");
    log_line(L"StartServiceCtrlDispatcherW failed", NULL, err);
    ExitProcess(err);
  }
  ExitProcess(0);
}
