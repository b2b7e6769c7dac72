<#
  Registers trellisd, the Trellis helper, as the Windows service "trellisd" and starts it. Run
  elevated; the NSIS installer runs it (packaging/windows/installer.nsh).

  Node.js does not speak the Service Control Manager's protocol, so the service's program is
  trellis-service.exe (native/windows-service), a small host that does: it runs trellisd.cmd
  in a Job object, stops it cleanly by closing its stdin (trellisd --stop-on-stdin-close) and
  reports a helper that exits on its own as a failure, so the recovery actions set here
  restart it. The LocalAPI is trellisd's default named pipe (no socket flag: the app and the CLI
  use the same default).

  An upgrade from a version that ran the helper as a scheduled task removes that task.
#>
param(
  # The app's install directory (the one with Trellis.exe).
  [string]$InstallDir = (Resolve-Path (Join-Path $PSScriptRoot '..\..\..')).Path
)
$ErrorActionPreference = 'Stop'

$ServiceName = 'trellisd'
$DisplayName = 'Trellis helper (trellisd)'
$Description = 'Trellis mesh VPN helper: WireGuard tunnels, routes and DNS for the Trellis app.'
$LegacyTaskName = 'Trellis helper (trellisd)'
$ServiceHost = Join-Path $InstallDir 'resources\helper\service\trellis-service.exe'
$Launcher = Join-Path $InstallDir 'resources\helper\bin\trellisd.cmd'
$DataDir = Join-Path $env:ProgramData 'Trellis'
$StateDir = Join-Path $DataDir 'state'
$LogDir = Join-Path $DataDir 'logs'

foreach ($f in @($ServiceHost, $Launcher)) {
  if (-not (Test-Path -LiteralPath $f)) { throw "not found: $f (the Trellis helper is not installed completely)" }
}

# Runs sc.exe with a command line passed as written: PowerShell 5.1 does not escape the quotes
# inside an argument such as binPath= "...", so the Process API gets the raw string.
function Invoke-Sc([string]$Arguments, [switch]$AllowFailure) {
  $psi = New-Object System.Diagnostics.ProcessStartInfo
  $psi.FileName = Join-Path $env:SystemRoot 'System32\sc.exe'
  $psi.Arguments = $Arguments
  $psi.UseShellExecute = $false
  $psi.RedirectStandardOutput = $true
  $psi.RedirectStandardError = $true
  $p = [System.Diagnostics.Process]::Start($psi)
  $out = $p.StandardOutput.ReadToEnd() + $p.StandardError.ReadToEnd()
  $p.WaitForExit()
  if ($p.ExitCode -ne 0 -and -not $AllowFailure) { throw "sc.exe $Arguments failed ($($p.ExitCode)): $out" }
  return $p.ExitCode
}

# Quotes one argument for sc.exe's command line (Windows paths hold no double quotes).
function Format-ScArgument([string]$Value) { '"' + $Value.Replace('"', '\"') + '"' }

# State: this device's keys. SYSTEM and Administrators only, nothing inherited. Logs likewise.
foreach ($d in @($StateDir, $LogDir)) {
  New-Item -ItemType Directory -Force -Path $d | Out-Null
  & icacls.exe $d /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null
  if ($LASTEXITCODE -ne 0) { throw "icacls failed on $d" }
}

# Upgrade from the scheduled-task version: stop and remove the task.
$legacy = Get-ScheduledTask -TaskName $LegacyTaskName -ErrorAction SilentlyContinue
if ($legacy) {
  Stop-ScheduledTask -TaskName $LegacyTaskName -ErrorAction SilentlyContinue
  Unregister-ScheduledTask -TaskName $LegacyTaskName -Confirm:$false
}

# Upgrade from an earlier service version: stop it and register it afresh.
$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($existing) {
  if ($existing.Status -ne 'Stopped') { Stop-Service -Name $ServiceName -Force }
  Invoke-Sc "delete $ServiceName" | Out-Null
  # DeleteService takes effect once every handle to the service is closed.
  for ($i = 0; $i -lt 50 -and (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue); $i++) {
    Start-Sleep -Milliseconds 200
  }
}

$arguments = "--state-dir `"$StateDir`" --stop-on-stdin-close"
$binPath = "`"$ServiceHost`" --name $ServiceName --log-dir `"$LogDir`" -- `"$Launcher`" $arguments"
Invoke-Sc ("create $ServiceName binPath= " + (Format-ScArgument $binPath) +
  " start= auto obj= LocalSystem DisplayName= " + (Format-ScArgument $DisplayName)) | Out-Null
Invoke-Sc ("description $ServiceName " + (Format-ScArgument $Description)) | Out-Null
# Restart after 5 s, 5 s, then every 30 s; the count starts again after a day without failure.
Invoke-Sc "failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/30000" | Out-Null
# Also when the service reports SERVICE_STOPPED with an error (the host does when the helper
# exits on its own), not only when its process crashes.
Invoke-Sc "failureflag $ServiceName 1" | Out-Null
Invoke-Sc "start $ServiceName" | Out-Null
Write-Output "trellisd registered and started (service $ServiceName)"
