<#
  Registers trellisd, the Trellis helper, to run as the Windows "service" of the app, and starts
  it. Run elevated; the NSIS installer runs it (packaging/windows/installer.nsh).

  Why a scheduled task and not sc.exe: a process registered with the Service Control Manager
  must answer its control protocol (StartServiceCtrlDispatcher) within 30 seconds or Windows
  kills it, and Node.js does not speak that protocol. A task that runs as SYSTEM at boot,
  restarts on failure and has no time limit gives the helper the same lifetime without a
  wrapper executable (winsw, nssm) or node-windows.
#>
param(
  # The app's install directory (the one with Trellis.exe).
  [string]$InstallDir = (Resolve-Path (Join-Path $PSScriptRoot '..\..\..')).Path
)
$ErrorActionPreference = 'Stop'

$TaskName = 'Trellis helper (trellisd)'
$Launcher = Join-Path $InstallDir 'resources\helper\bin\trellisd.cmd'
$DataDir = Join-Path $env:ProgramData 'Trellis'
$StateDir = Join-Path $DataDir 'state'
# The LocalAPI endpoint: trellisd's, the app's and the CLI's default on Windows, a named pipe
# that every local account may use (docs/install.md says why).
$Socket = '\\.\pipe\trellisd'

if (-not (Test-Path -LiteralPath $Launcher)) { throw "trellisd launcher not found: $Launcher" }

# State: this device's keys. SYSTEM and Administrators only, nothing inherited.
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
& icacls.exe $StateDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls failed on $StateDir" }

# A previous version's task (upgrade) is stopped and replaced.
$existing = Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
if ($existing) {
  Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
  Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
}

$arguments = "--state-dir `"$StateDir`" --socket `"$Socket`""
$action = New-ScheduledTaskAction -Execute $Launcher -Argument $arguments -WorkingDirectory $DataDir
$trigger = New-ScheduledTaskTrigger -AtStartup
$principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
# Restart every minute (the shortest interval Task Scheduler allows), practically forever; no
# run-time limit; keep running on battery.
$settings = New-ScheduledTaskSettingsSet `
  -RestartCount 9999 -RestartInterval (New-TimeSpan -Minutes 1) `
  -ExecutionTimeLimit ([TimeSpan]::Zero) -MultipleInstances IgnoreNew `
  -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -StartWhenAvailable
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Principal $principal `
  -Settings $settings -Description 'Trellis mesh VPN helper: WireGuard tunnels, routes and DNS for the Trellis app.' | Out-Null
Start-ScheduledTask -TaskName $TaskName
Write-Output "trellisd registered and started ($TaskName)"
