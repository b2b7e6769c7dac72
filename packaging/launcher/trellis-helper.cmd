@echo off
rem Starts the Trellis helper (trellisd) or CLI (trellis), whichever name this file was installed
rem as, with the app's Electron binary run as plain Node (ELECTRON_RUN_AS_NODE=1).
rem Layout: <app>\resources\helper\bin\<this file>, <app>\resources\helper\dist\helper\*.js,
rem <app>\Trellis.exe. Without Trellis.exe it says so and uses node.exe from TRELLIS_NODE or PATH.
setlocal
set "NAME=%~n0"
if /i not "%NAME%"=="trellis" set "NAME=trellisd"
set "HELPER=%~dp0.."
set "ENTRY=%HELPER%\dist\helper\%NAME%.js"
set "ELECTRON=%~dp0..\..\..\Trellis.exe"
if defined TRELLIS_ELECTRON set "ELECTRON=%TRELLIS_ELECTRON%"
if not exist "%ENTRY%" (
  echo %NAME%: %ENTRY% is missing: the Trellis helper is not installed completely 1>&2
  exit /b 127
)
if not defined TRELLIS_WIREGUARD_DLL set "TRELLIS_WIREGUARD_DLL=%~dp0..\..\wireguard-nt\wireguard.dll"
rem Not a parenthesised block: cmd expands %ERRORLEVEL% in a block when it reads the block, which
rem would return the code from before the helper ran.
if not exist "%ELECTRON%" goto :node
set ELECTRON_RUN_AS_NODE=1
"%ELECTRON%" "%ENTRY%" %*
exit /b %ERRORLEVEL%
:node
set "NODE=%TRELLIS_NODE%"
if not defined NODE set "NODE=node.exe"
echo %NAME%: the Electron binary (%ELECTRON%) is missing; running under %NODE% instead 1>&2
"%NODE%" "%ENTRY%" %*
exit /b %ERRORLEVEL%
