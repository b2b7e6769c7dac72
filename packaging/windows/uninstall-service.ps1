<#
  Stops and removes the trellisd task (see install-service.ps1). Run elevated; the NSIS
  uninstaller runs it. Stopping the helper removes its WireGuard adapter; NRPT and firewall
  rules a crashed helper left behind (marked "Trellis") are removed here as well. With -Purge,
  the state (this device's identity) goes too.
#>
param([switch]$Purge)
$ErrorActionPreference = 'Stop'

$TaskName = 'Trellis helper (trellisd)'
if (Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue) {
  Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
  Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
}
Get-DnsClientNrptRule -ErrorAction SilentlyContinue | Where-Object { $_.Comment -eq 'Trellis' } |
  Remove-DnsClientNrptRule -Force
Get-NetFirewallRule -Group 'Trellis' -ErrorAction SilentlyContinue | Remove-NetFirewallRule
if ($Purge) {
  Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $env:ProgramData 'Trellis')
}
Write-Output 'trellisd removed'
