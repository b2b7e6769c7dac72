; Included by electron-builder's NSIS installer (electron-builder.yml: nsis.include).
; Registers the helper after the files are in place and removes it before they go.
; The scripts are in the app's resources (staged by packaging/scripts/stage-helper.mjs).

!macro trellisPowerShell SCRIPT ARGS
  nsExec::ExecToLog 'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "$INSTDIR\resources\helper\service\${SCRIPT}" ${ARGS}'
  Pop $0
!macroend

!macro customInstall
  !insertmacro trellisPowerShell "install-service.ps1" '-InstallDir "$INSTDIR"'
  StrCmp $0 "0" trellisInstalled
    MessageBox MB_OK|MB_ICONEXCLAMATION "The Trellis helper service could not be registered (exit code $0). Run $INSTDIR\resources\helper\service\install-service.ps1 as administrator to retry."
  trellisInstalled:
!macroend

!macro customUnInstall
  !insertmacro trellisPowerShell "uninstall-service.ps1" ""
!macroend
