<#
  Stops and removes the trellisd service (see install-service.ps1), and the scheduled task of
  versions before it. Run elevated; the NSIS uninstaller runs it. Stopping the helper removes
  its WireGuard adapter; NRPT and firewall rules a crashed helper left behind (marked "Trellis")
  are removed here as well. With -Purge, the state (this device's identity) and the logs go too.
#>
param([switch]$Purge)
$ErrorActionPreference = 'Stop'

$ServiceName = 'trellisd'
$LegacyTaskName = 'Trellis helper (trellisd)'

$service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($service) {
  # The host closes the helper's stdin and waits for its clean stop (at most 25 s).
  if ($service.Status -ne 'Stopped') { Stop-Service -Name $ServiceName -Force }
  & (Join-Path $env:SystemRoot 'System32\sc.exe') delete $ServiceName | Out-Null
  if ($LASTEXITCODE -ne 0) { throw "sc.exe delete $ServiceName failed ($LASTEXITCODE)" }
}
if (Get-ScheduledTask -TaskName $LegacyTaskName -ErrorAction SilentlyContinue) {
  Stop-ScheduledTask -TaskName $LegacyTaskName -ErrorAction SilentlyContinue
  Unregister-ScheduledTask -TaskName $LegacyTaskName -Confirm:$false
}
Get-DnsClientNrptRule -ErrorAction SilentlyContinue | Where-Object { $_.Comment -eq 'Trellis' } |
  Remove-DnsClientNrptRule -Force
Get-NetFirewallRule -Group 'Trellis' -ErrorAction SilentlyContinue | Remove-NetFirewallRule
if ($Purge) {
  Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $env:ProgramData 'Trellis')
}
Write-Output 'trellisd removed'
