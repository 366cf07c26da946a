package codes

// entry is one row of the catalog. To add a code, add a row below; init
// builds the lookup maps from this table and panics on a duplicate, so a
// mistake shows at the first test run. codes.md is generated from it
// (go test ./internal/codes -update).
type entry struct {
	space   Space
	value   int64
	name    string
	desc    string
	outcome Outcome
	cat     Category
	source  string // where the meaning comes from
	advice  string // what an on-call admin can do about it (our own words)
}

// hr turns an HRESULT written as its unsigned hex form into the signed 32-bit
// value Parse returns.
func hr(u uint32) int64 { return int64(int32(u)) }

// Sources of the catalog's rows; lookup.go holds httpSource, cfgMgrSource
// and omadmSource, which its rules for unlisted codes share.
const (
	srcOffice     = "Office CSP"
	srcClickToRun = "Office CSP (Click-to-Run)"
	srcMSI        = "EnterpriseDesktopAppManagement CSP"
	srcInstaller  = "Windows Installer error codes"
	srcWin32      = "Win32 system error codes"
	srcCOM        = "COM HRESULTs (winerror.h)"
	srcWinINet    = "WinINet error codes"
)

// The advice that the codes of one cause category share, each named after
// its category; a code whose cause is more specific has advice of its own.
const (
	adviceClient       = "Restart the device (or the failing service) and retry; if it repeats, collect the MDM diagnostics log from the device."
	adviceCommand      = "Fix the command the server sends (syntax, node, arguments or command line) and resend it."
	adviceConflict     = "Let the other install or the running apps finish, or remove the conflicting product, then retry the install."
	adviceContent      = "Re-upload or rebuild the package and verify its hash; a bad package fails on every device that gets it."
	adviceDisk         = "Free disk space or close whatever holds the files, then retry."
	adviceNetwork      = "Check that the device can reach the content URL (proxy, firewall, DNS) and that the content is still published there; the client retries on its own."
	adviceNone         = "No action needed."
	adviceNotFound     = "Check that the product, node or object the server addressed exists on the device (right ID, right scope) before acting on it."
	advicePolicy       = "Review the device's policies (Windows Installer, AppLocker, group policy) and the install context; allow the install or deploy it in a permitted context."
	advicePrerequisite = "Check the assignment's requirements (OS version, architecture, existing products) against the device and target only devices that meet them."
	adviceSignature    = "Check that the package or its signing certificate is valid and trusted on the device; re-sign or re-download the content."
	adviceUnknown      = "The code does not tell the cause: check the accompanying LastError or LastErrorDesc, or the device's MDM diagnostics log."
	adviceUserCancel   = "Ask the user to let the install finish, or deploy it silently in device context."
)

// Sources: the Office CSP reference (status table, FinalStatus), the
// EnterpriseDesktopAppManagement CSP reference (MSI Status values), the
// Windows Installer "MsiExec.exe and InstMsi.exe error messages" and Win32
// "System error codes" references, winerror.h for the COM HRESULTs,
// cfgmgr2err.h for the MDM client's 0x86000xxx HRESULTs, and the OMA SyncML
// Representation Protocol status codes (as Windows' "OMA DM
// protocol support" page describes the ones its client returns).
var catalog = []entry{
	// Office CSP ./{Device,User}/Vendor/MSFT/Office/Installation/{id}/Status.
	// Names and descriptions are the Office CSP reference's status table.
	{SpaceOfficeStatus, 0, "ERROR_SUCCESS", "Installation succeeded", Succeeded, CatNone, srcOffice, adviceNone},
	{SpaceOfficeStatus, 997, "ERROR_IO_PENDING", "Installation in progress", InProgress, CatNone, srcOffice, "Wait for a terminal status; act only if it stays in progress for several check-ins."},
	{SpaceOfficeStatus, 13, "ERROR_INVALID_DATA", "Cannot verify signature of the downloaded Office Deployment Tool (ODT)", Failed, CatSignature, srcOffice, "The device could not verify the downloaded ODT; check for TLS inspection or a proxy altering the download, then retry."},
	{SpaceOfficeStatus, 1460, "ERROR_TIMEOUT", "Failed to download ODT", Failed, CatNetwork, srcOffice, "The device could not download the ODT; check access to the Office CDN through the proxy and firewall, then retry."},
	{SpaceOfficeStatus, 1602, "ERROR_INSTALL_USEREXIT", "User canceled the installation", Failed, CatUserCancel, srcOffice, adviceUserCancel},
	{SpaceOfficeStatus, 1603, "ERROR_INSTALL_FAILURE", "Failed any pre-req check: SxS (tried to install when 2016 MSI is installed), or bit mismatch between the currently installed Office and the Office that was attempting to be installed (such as installing a 32-bit version while a 64-bit version is installed)", Failed, CatPrerequisite, srcOffice, "Remove the conflicting Office (older MSI Office, or the other bitness) or change the configuration to match it, then retry."},
	{SpaceOfficeStatus, 17000, "ERROR_PROCESSPOOL_INITIALIZATION", "Failed to start C2RClient", Failed, CatClient, srcOffice, "Click-to-Run could not start; restart the device and retry, and repair or remove a damaged Click-to-Run install if it repeats."},
	{SpaceOfficeStatus, 17001, "ERROR_QUEUE_SCENARIO", "Failed to queue installation scenario in C2RClient", Failed, CatClient, srcOffice, "Click-to-Run could not queue the install; restart the device and retry once no other Office operation is pending."},
	{SpaceOfficeStatus, 17002, "ERROR_COMPLETING_SCENARIO", "Failed to complete the process. Possible reasons: installation canceled by user; installation canceled by another installation; out of disk space during installation; unknown language ID", Failed, CatInstaller, srcOffice, "Check for a user cancel, a competing Office install, low disk space or an unsupported language ID in the configuration, then retry."},
	{SpaceOfficeStatus, 17003, "ERROR_ANOTHER_RUNNING_SCENARIO", "Another scenario is running", Failed, CatConflict, srcOffice, "Another Office operation is running; wait for it to finish and retry."},
	{SpaceOfficeStatus, 17004, "ERROR_COMPLETING_SCENARIO_NEED_CLEAN_UP", "Possible reasons: unknown SKUs; content doesn't exist on CDN (such as an unsupported LAP like zh-sg, or a CDN issue that content is not available); signature check issue, such as failed the signature check for Office content; user canceled", Failed, CatContent, srcOffice, "Check the configuration's product and language IDs and that the content is available on the CDN or source, then retry."},
	{SpaceOfficeStatus, 17005, "ERROR_SCENARIO_CANCELLED_AS_PLANNED", "The scenario was cancelled as planned", Failed, CatInstaller, srcOffice, "The scenario was stopped on purpose; retry only if the install is still wanted."},
	{SpaceOfficeStatus, 17006, "ERROR_SCENARIO_CANCELLED", "Blocked update by running apps", Failed, CatConflict, srcOffice, "Office apps were running and blocked the operation; have users close them or allow a forced shutdown in the configuration."},
	{SpaceOfficeStatus, 17007, "ERROR_REMOVE_INSTALLATION_NEEDED", "The client is requesting client clean-up in a \"Remove Installation\" scenario", Failed, CatClient, srcOffice, "Click-to-Run needs a clean-up; remove the existing Office installation (for example with the Office removal tools) and reinstall."},
	{SpaceOfficeStatus, 17100, "ERROR_HANDLING_COMMAND_LINE", "C2RClient command-line error", Failed, CatCommand, srcOffice, "Fix the Click-to-Run or ODT command line or configuration XML the server sends, then resend it."},
	{SpaceOfficeStatus, hr(0x80004005), "E_FAIL", "ODT cannot be used to install Volume license", Failed, CatPrerequisite, srcOffice, "The ODT cannot install volume-licensed Office; use a subscription (Microsoft 365 Apps) configuration or another deployment method."},
	{SpaceOfficeStatus, hr(0x8000FFFF), "E_UNEXPECTED", "Tried to uninstall when there is no C2R Office on the machine", Failed, CatNotFound, srcOffice, "There is no Click-to-Run Office to uninstall; treat the removal as done or check the target."},

	// Office CSP .../Installation/{id}/FinalStatus, created when the install
	// reaches a terminal state.
	{SpaceOfficeFinal, 60, "FAILED", "Office installation reached a terminal state with a non-zero Status", Failed, CatUnknown, srcOffice, "Read the same installation's Status for the cause."},
	{SpaceOfficeFinal, 70, "SUCCEEDED", "Office installation reached a terminal state with Status 0", Succeeded, CatNone, srcOffice, adviceNone},

	// EnterpriseDesktopAppManagement .../MSI/{ProductID}/Status.
	{SpaceMSIStatus, 10, "Initialized", "The install job was created and has not started", Pending, CatNone, srcMSI, "Wait for the download to start; act only if the job stays here across several check-ins."},
	{SpaceMSIStatus, 20, "Download In Progress", "The MSI is being downloaded", InProgress, CatNone, srcMSI, "Wait for the download to finish."},
	{SpaceMSIStatus, 25, "Pending Download Retry", "The download failed and will be retried", Retrying, CatNetwork, srcMSI, "The client retries by itself; if it keeps retrying, check the content URL and the device's network path."},
	{SpaceMSIStatus, 30, "Download Failed", "The download failed after its retries; see LastError", Failed, CatNetwork, srcMSI, "Read LastError for the download error; check the content URL, the distribution point and the device's proxy, then resend the install."},
	{SpaceMSIStatus, 40, "Download Completed", "The MSI was downloaded and validated; enforcement follows", InProgress, CatNone, srcMSI, "Wait for enforcement."},
	{SpaceMSIStatus, 48, "Pending User Session", "Waiting for the user to sign in before installing in the user's context", Pending, CatNone, srcMSI, "The install waits for the user to sign in; nothing to fix unless no user ever signs in on this device."},
	{SpaceMSIStatus, 50, "Enforcement In Progress", "msiexec is installing the MSI", InProgress, CatNone, srcMSI, "Wait for msiexec to finish."},
	{SpaceMSIStatus, 55, "Pending Enforcement Retry", "The install failed and will be retried", Retrying, CatNone, srcMSI, "The client retries by itself; read LastError if it keeps retrying."},
	{SpaceMSIStatus, 60, "Enforcement Failed", "The install failed after its retries; see LastError", Failed, CatUnknown, srcMSI, "Read LastError for the installer's code and act on that code."},
	{SpaceMSIStatus, 70, "Enforcement Completed", "The MSI was installed", Succeeded, CatNone, srcMSI, adviceNone},

	// Win32 system error codes that installs report.
	{SpaceWin32, 0, "ERROR_SUCCESS", "The action completed successfully.", Succeeded, CatNone, srcWin32, adviceNone},
	{SpaceWin32, 2, "ERROR_FILE_NOT_FOUND", "The system cannot find the file specified.", Failed, CatContent, srcWin32, adviceContent},
	{SpaceWin32, 3, "ERROR_PATH_NOT_FOUND", "The system cannot find the path specified.", Failed, CatContent, srcWin32, adviceContent},
	{SpaceWin32, 5, "ERROR_ACCESS_DENIED", "Access is denied.", Failed, CatPolicy, srcWin32, "Access was denied; check the install runs in the right context (device vs user) and that no security product blocks it."},
	{SpaceWin32, 6, "ERROR_INVALID_HANDLE", "The handle is invalid.", Failed, CatClient, srcWin32, adviceClient},
	{SpaceWin32, 8, "ERROR_NOT_ENOUGH_MEMORY", "Not enough memory resources are available to process this command.", Failed, CatClient, srcWin32, adviceClient},
	{SpaceWin32, 13, "ERROR_INVALID_DATA", "The data is invalid.", Failed, CatContent, srcWin32, adviceContent},
	{SpaceWin32, 14, "ERROR_OUTOFMEMORY", "Not enough memory resources are available to complete this operation.", Failed, CatClient, srcWin32, adviceClient},
	{SpaceWin32, 32, "ERROR_SHARING_VIOLATION", "The process cannot access the file because it is being used by another process.", Failed, CatDisk, srcWin32, adviceDisk},
	{SpaceWin32, 87, "ERROR_INVALID_PARAMETER", "The parameter is incorrect.", Failed, CatCommand, srcWin32, adviceCommand},
	{SpaceWin32, 112, "ERROR_DISK_FULL", "There is not enough space on the disk.", Failed, CatDisk, srcWin32, "The disk is full; free space on the system drive and retry."},
	{SpaceWin32, 1223, "ERROR_CANCELLED", "The operation was canceled by the user.", Failed, CatUserCancel, srcWin32, adviceUserCancel},
	{SpaceWin32, 1260, "ERROR_ACCESS_DISABLED_BY_POLICY", "This program is blocked by group policy.", Failed, CatPolicy, srcWin32, advicePolicy},
	{SpaceWin32, 1392, "ERROR_FILE_CORRUPT", "The file or directory is corrupted and unreadable.", Failed, CatContent, srcWin32, adviceContent},
	{SpaceWin32, 1460, "ERROR_TIMEOUT", "This operation returned because the timeout period expired.", Failed, CatNetwork, srcWin32, "The operation timed out; check the device's connection to the content source and retry."},

	// Windows Installer (msiexec) return codes.
	{SpaceWin32, 1601, "ERROR_INSTALL_SERVICE_FAILURE", "The Windows Installer service could not be accessed.", Failed, CatClient, srcInstaller, "The Windows Installer service is unavailable; check that the msiserver service is enabled, restart the device and retry."},
	{SpaceWin32, 1602, "ERROR_INSTALL_USEREXIT", "The user canceled the installation.", Failed, CatUserCancel, srcInstaller, "The user cancelled; deploy silently (/qn) in device context or ask the user to let it finish."},
	{SpaceWin32, 1603, "ERROR_INSTALL_FAILURE", "A fatal error occurred during installation.", Failed, CatInstaller, srcInstaller, "Generic MSI failure: collect the verbose msiexec log (/l*v) and look for the first \"return value 3\"; common causes are a failing custom action, missing rights or a pending restart."},
	{SpaceWin32, 1604, "ERROR_INSTALL_SUSPEND", "Installation suspended, incomplete.", Failed, CatInstaller, srcInstaller, "The install was suspended; restart the device and retry."},
	{SpaceWin32, 1605, "ERROR_UNKNOWN_PRODUCT", "This action is only valid for products that are currently installed.", Failed, CatNotFound, srcInstaller, "The product is not installed; treat an uninstall as done, or check the product code the server targets."},
	{SpaceWin32, 1606, "ERROR_UNKNOWN_FEATURE", "The feature identifier is not registered.", Failed, CatNotFound, srcInstaller, adviceNotFound},
	{SpaceWin32, 1607, "ERROR_UNKNOWN_COMPONENT", "The component identifier is not registered.", Failed, CatNotFound, srcInstaller, adviceNotFound},
	{SpaceWin32, 1608, "ERROR_UNKNOWN_PROPERTY", "This is an unknown property.", Failed, CatNotFound, srcInstaller, adviceNotFound},
	{SpaceWin32, 1609, "ERROR_INVALID_HANDLE_STATE", "The handle is in an invalid state.", Failed, CatClient, srcInstaller, adviceClient},
	{SpaceWin32, 1610, "ERROR_BAD_CONFIGURATION", "The configuration data for this product is corrupt.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1612, "ERROR_INSTALL_SOURCE_ABSENT", "The installation source for this product is not available.", Failed, CatContent, srcInstaller, "The original installation source is gone; make the source MSI available again or reinstall from current content."},
	{SpaceWin32, 1613, "ERROR_INSTALL_PACKAGE_VERSION", "This installation package cannot be installed by the Windows Installer service; a newer version of the Windows Installer service is required.", Failed, CatPrerequisite, srcInstaller, advicePrerequisite},
	{SpaceWin32, 1614, "ERROR_PRODUCT_UNINSTALLED", "The product is uninstalled.", Failed, CatNotFound, srcInstaller, adviceNotFound},
	{SpaceWin32, 1615, "ERROR_BAD_QUERY_SYNTAX", "The SQL query syntax is invalid or unsupported.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1616, "ERROR_INVALID_FIELD", "The record field does not exist.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1618, "ERROR_INSTALL_ALREADY_RUNNING", "Another installation is already in progress.", Failed, CatConflict, srcInstaller, "Another MSI install is running (often Windows Update or another app); the retry usually succeeds, otherwise find and end the other msiexec."},
	{SpaceWin32, 1619, "ERROR_INSTALL_PACKAGE_OPEN_FAILED", "This installation package could not be opened. Verify that the package exists and is accessible.", Failed, CatContent, srcInstaller, "msiexec could not open the package: check the download completed, the path is right and the file is readable by SYSTEM."},
	{SpaceWin32, 1620, "ERROR_INSTALL_PACKAGE_INVALID", "This installation package could not be opened; it is not a valid Windows Installer package.", Failed, CatContent, srcInstaller, "The file is not a valid MSI: check the uploaded file is the real package (not an HTML error page or a truncated copy) and re-upload it."},
	{SpaceWin32, 1621, "ERROR_INSTALL_UI_FAILURE", "There was an error starting the Windows Installer service user interface.", Failed, CatClient, srcInstaller, adviceClient},
	{SpaceWin32, 1622, "ERROR_INSTALL_LOG_FAILURE", "There was an error opening the installation log file.", Failed, CatDisk, srcInstaller, adviceDisk},
	{SpaceWin32, 1623, "ERROR_INSTALL_LANGUAGE_UNSUPPORTED", "The language of this installation package is not supported by your system.", Failed, CatPrerequisite, srcInstaller, advicePrerequisite},
	{SpaceWin32, 1624, "ERROR_INSTALL_TRANSFORM_FAILURE", "There was an error applying transforms.", Failed, CatContent, srcInstaller, "A transform (MST) could not be applied; check the transform path in the command line and that it matches this MSI."},
	{SpaceWin32, 1625, "ERROR_INSTALL_PACKAGE_REJECTED", "This installation is forbidden by system policy.", Failed, CatPolicy, srcInstaller, "Windows Installer policy forbids this install; review the DisableMSI and related policies, or deploy in a permitted context."},
	{SpaceWin32, 1626, "ERROR_FUNCTION_NOT_CALLED", "The function could not be executed.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1627, "ERROR_FUNCTION_FAILED", "The function failed during execution.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1628, "ERROR_INVALID_TABLE", "An invalid or unknown table was specified.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1629, "ERROR_DATATYPE_MISMATCH", "The data supplied is the wrong type.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1630, "ERROR_UNSUPPORTED_TYPE", "Data of this type is not supported.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1631, "ERROR_CREATE_FAILED", "The Windows Installer service failed to start.", Failed, CatClient, srcInstaller, adviceClient},
	{SpaceWin32, 1632, "ERROR_INSTALL_TEMP_UNWRITABLE", "The Temp folder is either full or inaccessible.", Failed, CatDisk, srcInstaller, adviceDisk},
	{SpaceWin32, 1633, "ERROR_INSTALL_PLATFORM_UNSUPPORTED", "This installation package is not supported on this platform.", Failed, CatPrerequisite, srcInstaller, "The package does not fit this platform (for example a 64-bit MSI on 32-bit Windows or the wrong CPU); target the matching package."},
	{SpaceWin32, 1634, "ERROR_INSTALL_NOTUSED", "Component is not used on this machine.", Failed, CatNotFound, srcInstaller, adviceNotFound},
	{SpaceWin32, 1635, "ERROR_PATCH_PACKAGE_OPEN_FAILED", "This patch package could not be opened.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1636, "ERROR_PATCH_PACKAGE_INVALID", "This patch package could not be opened; it is not a valid Windows Installer patch package.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1637, "ERROR_PATCH_PACKAGE_UNSUPPORTED", "This patch package cannot be processed by the Windows Installer service; a newer version of the Windows Installer service is required.", Failed, CatPrerequisite, srcInstaller, advicePrerequisite},
	{SpaceWin32, 1638, "ERROR_PRODUCT_VERSION", "Another version of this product is already installed.", Failed, CatConflict, srcInstaller, "Another version of the product is installed; remove it first or author the MSI as a major upgrade."},
	{SpaceWin32, 1639, "ERROR_INVALID_COMMAND_LINE", "Invalid command line argument.", Failed, CatCommand, srcInstaller, "Fix the msiexec command line the server sends (properties, quoting, switches) and resend it."},
	{SpaceWin32, 1640, "ERROR_INSTALL_REMOTE_DISALLOWED", "The current user is not permitted to perform installations from a client session of a server running the Terminal Server role service.", Failed, CatPolicy, srcInstaller, advicePolicy},
	{SpaceWin32, 1641, "ERROR_SUCCESS_REBOOT_INITIATED", "The installer has initiated a restart. This message indicates success.", Succeeded, CatRebootRequired, srcInstaller, "The install succeeded and the installer restarted the device; no action needed unless restarts must be scheduled."},
	{SpaceWin32, 1642, "ERROR_PATCH_TARGET_NOT_FOUND", "The installer cannot install the upgrade patch because the program being upgraded may be missing or the patch updates a different version of the program.", Failed, CatNotFound, srcInstaller, adviceNotFound},
	{SpaceWin32, 1643, "ERROR_PATCH_PACKAGE_REJECTED", "The patch package is not permitted by system policy.", Failed, CatPolicy, srcInstaller, advicePolicy},
	{SpaceWin32, 1644, "ERROR_INSTALL_TRANSFORM_REJECTED", "One or more customizations are not permitted by system policy.", Failed, CatPolicy, srcInstaller, advicePolicy},
	{SpaceWin32, 1645, "ERROR_INSTALL_REMOTE_PROHIBITED", "Windows Installer does not permit installation from a Remote Desktop Connection.", Failed, CatPolicy, srcInstaller, advicePolicy},
	{SpaceWin32, 1646, "ERROR_PATCH_REMOVAL_UNSUPPORTED", "The patch package is not a removable patch package.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1647, "ERROR_UNKNOWN_PATCH", "The patch is not applied to this product.", Failed, CatNotFound, srcInstaller, adviceNotFound},
	{SpaceWin32, 1648, "ERROR_PATCH_NO_SEQUENCE", "No valid sequence could be found for the set of patches.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1649, "ERROR_PATCH_REMOVAL_DISALLOWED", "Patch removal was disallowed by policy.", Failed, CatPolicy, srcInstaller, advicePolicy},
	{SpaceWin32, 1650, "ERROR_INVALID_PATCH_XML", "The XML patch data is invalid.", Failed, CatContent, srcInstaller, adviceContent},
	{SpaceWin32, 1652, "ERROR_INSTALL_SERVICE_SAFEBOOT", "Windows Installer is not accessible when the computer is in Safe Mode.", Failed, CatClient, srcInstaller, adviceClient},
	{SpaceWin32, 3010, "ERROR_SUCCESS_REBOOT_REQUIRED", "A restart is required to complete the install. This message indicates success.", Succeeded, CatRebootRequired, srcInstaller, "The install succeeded but needs a restart; schedule one, or the app may not work until then."},

	// Click-to-Run codes, as the Office CSP reference names them; devices
	// also send them in generic install alerts.
	{SpaceWin32, 17000, "ERROR_PROCESSPOOL_INITIALIZATION", "Failed to start C2RClient", Failed, CatClient, srcClickToRun, "Click-to-Run could not start; restart the device and retry, and repair or remove a damaged Click-to-Run install if it repeats."},
	{SpaceWin32, 17001, "ERROR_QUEUE_SCENARIO", "Failed to queue installation scenario in C2RClient", Failed, CatClient, srcClickToRun, "Click-to-Run could not queue the install; restart the device and retry once no other Office operation is pending."},
	{SpaceWin32, 17002, "ERROR_COMPLETING_SCENARIO", "Failed to complete the process (canceled by the user or by another installation, out of disk space, or unknown language ID)", Failed, CatInstaller, srcClickToRun, "Check for a user cancel, a competing Office install, low disk space or an unsupported language ID in the configuration, then retry."},
	{SpaceWin32, 17003, "ERROR_ANOTHER_RUNNING_SCENARIO", "Another scenario is running", Failed, CatConflict, srcClickToRun, "Another Office operation is running; wait for it to finish and retry."},
	{SpaceWin32, 17004, "ERROR_COMPLETING_SCENARIO_NEED_CLEAN_UP", "Unknown SKUs, content not available on the CDN, a failed signature check of Office content, or canceled by the user", Failed, CatContent, srcClickToRun, "Check the configuration's product and language IDs and that the content is available on the CDN or source, then retry."},
	{SpaceWin32, 17005, "ERROR_SCENARIO_CANCELLED_AS_PLANNED", "The scenario was cancelled as planned", Failed, CatInstaller, srcClickToRun, "The scenario was stopped on purpose; retry only if the install is still wanted."},
	{SpaceWin32, 17006, "ERROR_SCENARIO_CANCELLED", "Blocked update by running apps", Failed, CatConflict, srcClickToRun, "Office apps were running and blocked the operation; have users close them or allow a forced shutdown in the configuration."},
	{SpaceWin32, 17007, "ERROR_REMOVE_INSTALLATION_NEEDED", "The client is requesting client clean-up in a \"Remove Installation\" scenario", Failed, CatClient, srcClickToRun, "Click-to-Run needs a clean-up; remove the existing Office installation and reinstall."},
	{SpaceWin32, 17100, "ERROR_HANDLING_COMMAND_LINE", "C2RClient command-line error", Failed, CatCommand, srcClickToRun, "Fix the Click-to-Run or ODT command line or configuration XML the server sends, then resend it."},

	// WinINet errors of downloads.
	{SpaceWin32, 12002, "ERROR_INTERNET_TIMEOUT", "The request has timed out.", Failed, CatNetwork, srcWinINet, "The download timed out; check the device's connectivity and proxy to the content host."},
	{SpaceWin32, 12007, "ERROR_INTERNET_NAME_NOT_RESOLVED", "The server name or address could not be resolved.", Failed, CatNetwork, srcWinINet, "The content host name does not resolve; check the URL and the device's DNS."},
	{SpaceWin32, 12029, "ERROR_INTERNET_CANNOT_CONNECT", "The attempt to connect to the server failed.", Failed, CatNetwork, srcWinINet, "The device could not connect to the content host; check firewall, proxy and that the host is up."},

	// HRESULTs with their own names. Any other FACILITY_WIN32 HRESULT
	// (0x8007xxxx) resolves to its Win32 entry above.
	{SpaceHRESULT, 0, "S_OK", "Operation successful", Succeeded, CatNone, srcCOM, adviceNone},
	{SpaceHRESULT, 1, "S_FALSE", "Operation successful, with a false result", Succeeded, CatNone, srcCOM, adviceNone},
	{SpaceHRESULT, hr(0x8000000A), "E_PENDING", "The data necessary to complete this operation is not yet available.", Failed, CatUnknown, srcCOM, adviceUnknown},
	{SpaceHRESULT, hr(0x80004001), "E_NOTIMPL", "Not implemented", Failed, CatCommand, srcCOM, adviceCommand},
	{SpaceHRESULT, hr(0x80004002), "E_NOINTERFACE", "No such interface supported", Failed, CatClient, srcCOM, adviceClient},
	{SpaceHRESULT, hr(0x80004003), "E_POINTER", "Pointer that is not valid", Failed, CatClient, srcCOM, adviceClient},
	{SpaceHRESULT, hr(0x80004004), "E_ABORT", "Operation aborted", Failed, CatUnknown, srcCOM, adviceUnknown},
	{SpaceHRESULT, hr(0x80004005), "E_FAIL", "Unspecified failure", Failed, CatUnknown, srcCOM, adviceUnknown},
	{SpaceHRESULT, hr(0x8000FFFF), "E_UNEXPECTED", "Unexpected failure", Failed, CatUnknown, srcCOM, adviceUnknown},
	{SpaceHRESULT, hr(0x80070005), "E_ACCESSDENIED", "General access denied error (ERROR_ACCESS_DENIED)", Failed, CatPolicy, srcCOM, advicePolicy},
	{SpaceHRESULT, hr(0x80070006), "E_HANDLE", "Handle that is not valid (ERROR_INVALID_HANDLE)", Failed, CatClient, srcCOM, adviceClient},
	{SpaceHRESULT, hr(0x8007000E), "E_OUTOFMEMORY", "Failed to allocate necessary memory (ERROR_OUTOFMEMORY)", Failed, CatClient, srcCOM, adviceClient},
	{SpaceHRESULT, hr(0x80070057), "E_INVALIDARG", "One or more arguments are not valid (ERROR_INVALID_PARAMETER)", Failed, CatCommand, srcCOM, adviceCommand},
	// HRESULTs of the Windows MDM client's configuration manager (0x86000xxx,
	// FACILITY 0x600), as devices send them in msft:originalerror: the
	// CFGMGR_E_* values of the Windows SDK header cfgmgr2err.h. Its one success
	// code, CFGMGR_S_COMMANDFAILEDDUETOTRANSACTIONROLLBACK (0x06000007), is not
	// a failure HRESULT and is left out. An unlisted 0x8600xxxx value is still
	// classified as client by its facility (see Classify).
	{SpaceHRESULT, hr(0x86000000), "CFGMGR_E_INVALIDNODEOPTIONS", "The MDM client's configuration manager rejected the options a CSP gave for a node", Failed, CatClient, cfgMgrSource, "A CSP on the device misbehaved rather than your command; collect the MDM diagnostics log and check whether the Windows build has a known CSP fix."},
	{SpaceHRESULT, hr(0x86000001), "CFGMGR_E_INVALIDDATATYPE", "The value's data type does not match what the node accepts", Failed, CatCommand, cfgMgrSource, "Send the value with the Meta/Format the CSP documents for this node (int, chr, bool, b64, xml) and resend the command."},
	{SpaceHRESULT, hr(0x86000002), "CFGMGR_E_NODENOTFOUND", "The MDM client did not find the node the command addressed (answered as OMA-DM 404)", Failed, CatNotFound, cfgMgrSource, "Check the LocURI (CSP, scope, product ID) and that the node was created first; for an install's Status node, the install job was never created on the device."},
	{SpaceHRESULT, hr(0x86000003), "CFGMGR_E_ILLEGALOPERATIONINATRANSACTION", "The command is not allowed inside an Atomic (transaction)", Failed, CatCommand, cfgMgrSource, "Move this command out of the Atomic (Get, and Add followed by Replace of the same node, do not belong there) and resend."},
	{SpaceHRESULT, hr(0x86000004), "CFGMGR_E_ILLEGALOPERATIONOUTSIDEATRANSACTION", "The command is only allowed inside an Atomic (transaction)", Failed, CatCommand, cfgMgrSource, "Wrap the commands for this CSP in an Atomic, as the CSP requires, and resend them together."},
	{SpaceHRESULT, hr(0x86000005), "CFGMGR_E_ONEORMOREEXECUTIONFAILURES", "At least one command of the batch failed to execute", Failed, CatAtomic, cfgMgrSource, "This summarises other failures: find the command of the same message with its own failing status, fix that one and resend."},
	{SpaceHRESULT, hr(0x86000006), "CFGMGR_E_ONEORMORECANCELFAILURES", "At least one command could not be reverted when the batch was cancelled", Failed, CatAtomic, cfgMgrSource, "A rollback was incomplete: Get the affected nodes to see their real state on the device before resending anything."},
	{SpaceHRESULT, hr(0x86000008), "CFGMGR_E_COMMITFAILURE", "The transaction failed while being committed on the device", Failed, CatClient, cfgMgrSource, "The device could not commit the changes; retry once, and if it repeats collect the MDM diagnostics log from the device."},
	{SpaceHRESULT, hr(0x86000009), "CFGMGR_E_ROLLBACKFAILURE", "The transaction failed and could not be rolled back", Failed, CatAtomic, cfgMgrSource, "The rollback itself failed, so the device may hold partial settings: Get the nodes to check their state before resending."},
	{SpaceHRESULT, hr(0x8600000A), "CFGMGR_E_ONEORMORECLEANUPFAILURES", "At least one command failed during clean-up after the transaction was committed", Failed, CatClient, cfgMgrSource, "The change was committed but clean-up failed; verify the result with a Get and collect the MDM diagnostics log if it repeats."},
	{SpaceHRESULT, hr(0x8600000B), "CFGMGR_E_CONFIGNODESTATEOBJECTNOLONGERVALID", "A CSP used a node-state object after it had stopped being valid (an internal CSP fault)", Failed, CatClient, cfgMgrSource, "A CSP fault on the device, not your command: retry, and check for a Windows update that fixes the CSP if it repeats."},
	{SpaceHRESULT, hr(0x8600000C), "CFGMGR_E_CSPREGISTRATIONCORRUPT", "The CSP's registration in the device registry is damaged", Failed, CatClient, cfgMgrSource, "The device's CSP registration is broken: repair Windows (DISM and SFC, or an in-place upgrade) or reimage the device; other devices are not affected."},
	{SpaceHRESULT, hr(0x8600000D), "CFGMGR_E_NODEFAILEDTOCANCEL", "A node could not undo its change when the operation was cancelled", Failed, CatAtomic, cfgMgrSource, "The node kept a partial change after a cancel; Get it to see its state, then Delete or Replace it as needed before resending."},
	{SpaceHRESULT, hr(0x8600000E), "CFGMGR_E_DEPENDENTOPERATIONFAILURE", "The command failed because an earlier command it depends on failed", Failed, CatAtomic, cfgMgrSource, "Not the root cause: find the earlier failing command in the same message, fix it and resend both."},
	{SpaceHRESULT, hr(0x8600000F), "CFGMGR_E_CSPNODEILLEGALSTATE", "The node's current state does not allow the command", Failed, CatConflict, cfgMgrSource, "The node is mid-change (for example an install job still running or half-created); Get its status, wait or Delete it, then resend."},
	{SpaceHRESULT, hr(0x86000010), "CFGMGR_E_REQUIRESINTERNALTRANSACTIONING", "The command needs the node to handle transactions itself, which it does not", Failed, CatCommand, cfgMgrSource, "This node does not support the command in this form; send it as the CSP documents (outside an Atomic, or with another command)."},
	{SpaceHRESULT, hr(0x86000011), "CFGMGR_E_COMMANDNOTALLOWED", "The command is not allowed on the target node", Failed, CatCommand, cfgMgrSource, "Use an operation the CSP documents for this node (for example Exec instead of Replace, or no write to a read-only node)."},
	{SpaceHRESULT, hr(0x86000012), "CFGMGR_E_INTERCSPOPERATION", "A Copy or Move between two different CSPs was attempted", Failed, CatCommand, cfgMgrSource, "Copy and Move only work within one CSP; Get the value and Add it under the other CSP instead."},
	{SpaceHRESULT, hr(0x86000013), "CFGMGR_E_PROPERTYNOTSUPPORTED", "The node does not support the requested property", Failed, CatCommand, cfgMgrSource, "Remove the unsupported property (for example a ?prop= query or Meta the node does not have) from the command."},
	{SpaceHRESULT, hr(0x86000014), "CFGMGR_E_INVALIDSEMANTICTYPE", "The value's semantic type (Meta/Type) is not valid for the node", Failed, CatCommand, cfgMgrSource, "Send the Meta/Type the CSP documents for this node, or leave it out, and resend."},
	{SpaceHRESULT, hr(0x86000015), "CFGMGR_E_FORBIDDENURISEGMENT", "The LocURI holds a segment that is not allowed", Failed, CatCommand, cfgMgrSource, "Fix the LocURI: no empty or '*' segment, reserved characters percent-encoded, the node names the CSP defines."},
	{SpaceHRESULT, hr(0x86000016), "CFGMGR_E_READWRITEACCESSDENIED", "The read or write access the command needs is not permitted on the node", Failed, CatPolicy, cfgMgrSource, "Check the scope (./Device vs ./User) and the node's access rights; some nodes are read-only or owned by another enrollment."},
	{SpaceHRESULT, hr(0x86000017), "CFGMGR_E_SECRETDATAACCESSDENIED", "The node holds secret data that cannot be read back", Failed, CatPolicy, cfgMgrSource, "Do not Get secret nodes (keys, passwords); treat them as write-only and check the setting through another node or report."},
	{SpaceHRESULT, hr(0x86000018), "CFGMGR_E_XMLPARSEERROR", "The XML the command carried could not be parsed", Failed, CatCommand, cfgMgrSource, "Validate the XML in the Data (for example the MsiInstallJob or Office configuration), escape it or put it in CDATA, and resend."},
	{SpaceHRESULT, hr(0x86000019), "CFGMGR_E_COMMANDTIMEOUT", "The command did not finish on the device in the allowed time", Failed, CatClient, cfgMgrSource, "The CSP took too long (often a slow download or a busy installer); check the install's own status later before resending."},
	{SpaceHRESULT, hr(0x86000020), "CFGMGR_E_IMPERSONATIONERROR", "The CSP's user impersonation went wrong on the device", Failed, CatClient, cfgMgrSource, "A client fault while running as the user; retry after the user signs in again, and collect the MDM diagnostics log if it repeats."},
	{SpaceHRESULT, hr(0x86000021), "CFGMGR_E_WMIOPERATIONERROR", "A WMI Bridge operation failed (bad argument, duplicate instance or type mismatch)", Failed, CatCommand, cfgMgrSource, "Check the class, key and property values sent through the WMI Bridge CSP against the WMI class and resend."},
	{SpaceHRESULT, hr(0x86000022), "CFGMGR_E_NOIMPERSONATIONTARGET", "The command needed a user to run as, and there was none", Failed, CatPrerequisite, cfgMgrSource, "A ./User command reached a device with no matching signed-in user; resend once the user signs in, or use ./Device scope."},
	{SpaceHRESULT, hr(0x86000023), "RESOURCEMGR_E_RESOURCEALREADYOWNED", "The setting is already provisioned by another configuration source", Failed, CatConflict, cfgMgrSource, "Another source (a provisioning package, another MDM, co-management or group policy) owns this setting; remove it there or stop sending it."},

	// FACILITY_HTTP (0x8019xxxx): the low 16 bits are the HTTP status of a
	// download (winerror.h HTTP_E_STATUS_*). An unlisted 0x8019xxxx value
	// is still classified as network by its facility (see Classify).
	{SpaceHRESULT, hr(0x80190190), "HTTP_E_STATUS_BAD_REQUEST", "HTTP 400 Bad Request from the content server", Failed, CatNetwork, httpSource, "The content server rejected the download request; check the content URL for bad characters or a malformed query string."},
	{SpaceHRESULT, hr(0x80190191), "HTTP_E_STATUS_DENIED", "HTTP 401 Unauthorized from the content server", Failed, CatNetwork, httpSource, "The content server requires authentication; make the content URL reachable without user credentials (for example a valid SAS token) or grant the device access."},
	{SpaceHRESULT, hr(0x80190193), "HTTP_E_STATUS_FORBIDDEN", "HTTP 403 Forbidden from the content server", Failed, CatNetwork, httpSource, "The content server refused the download; check the storage permissions or an expired signed URL, and any proxy rule blocking the host."},
	{SpaceHRESULT, hr(0x80190194), "HTTP_E_STATUS_NOT_FOUND", "HTTP 404 Not Found: the content URL does not exist on the server", Failed, CatNetwork, httpSource, "Check the content URL in the install command and that the package is still published on the distribution point or CDN; re-upload it if it was removed."},
	{SpaceHRESULT, hr(0x80190197), "HTTP_E_STATUS_PROXY_AUTH_REQ", "HTTP 407 Proxy Authentication Required", Failed, CatNetwork, httpSource, "The device's proxy wants credentials the SYSTEM context cannot give; exempt the content host from proxy authentication."},
	{SpaceHRESULT, hr(0x80190198), "HTTP_E_STATUS_REQUEST_TIMEOUT", "HTTP 408 Request Timeout", Failed, CatNetwork, httpSource, "The server timed out waiting for the device; check the device's connection quality and retry."},
	{SpaceHRESULT, hr(0x8019019A), "HTTP_E_STATUS_GONE", "HTTP 410 Gone: the content was removed from the server", Failed, CatNetwork, httpSource, "The package was removed from the content server; publish it again and update the content URL."},
	{SpaceHRESULT, hr(0x801901F4), "HTTP_E_STATUS_SERVER_ERROR", "HTTP 500 Internal Server Error from the content server", Failed, CatNetwork, httpSource, "The content server failed; check its health and logs, then let the device retry."},
	{SpaceHRESULT, hr(0x801901F6), "HTTP_E_STATUS_BAD_GATEWAY", "HTTP 502 Bad Gateway", Failed, CatNetwork, httpSource, "A proxy or gateway between device and content server failed; check the proxy and the upstream server."},
	{SpaceHRESULT, hr(0x801901F7), "HTTP_E_STATUS_SERVICE_UNAVAIL", "HTTP 503 Service Unavailable", Failed, CatNetwork, httpSource, "The content server is overloaded or down; the device retries, check the server if it persists."},
	{SpaceHRESULT, hr(0x801901F8), "HTTP_E_STATUS_GATEWAY_TIMEOUT", "HTTP 504 Gateway Timeout", Failed, CatNetwork, httpSource, "A proxy or gateway timed out reaching the content server; check the path from the proxy to the server."},

	{SpaceHRESULT, hr(0x800B0100), "TRUST_E_NOSIGNATURE", "No signature was present in the subject.", Failed, CatSignature, srcCOM, adviceSignature},
	{SpaceHRESULT, hr(0x800B0109), "CERT_E_UNTRUSTEDROOT", "A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider.", Failed, CatSignature, srcCOM, adviceSignature},
	{SpaceHRESULT, hr(0x80096010), "TRUST_E_BAD_DIGEST", "The digital signature of the object did not verify.", Failed, CatSignature, srcCOM, adviceSignature},

	// OMA-DM status codes (SyncML Representation Protocol), in Status/Data.
	{SpaceOMADM, 200, "OK", "The command completed successfully", Succeeded, CatNone, omadmSource, adviceNone},
	{SpaceOMADM, 202, "Accepted for processing", "The command was accepted and runs asynchronously; its result comes later (for installs: a generic alert)", InProgress, CatNone, omadmSource, "Wait for the asynchronous result (for installs, a generic alert)."},
	{SpaceOMADM, 212, "Authentication accepted", "Authentication accepted; normally only in answer to SyncHdr", Succeeded, CatNone, omadmSource, adviceNone},
	{SpaceOMADM, 213, "Chunked item accepted and buffered", "A chunk of a large object was accepted and buffered", InProgress, CatNone, omadmSource, adviceNone},
	{SpaceOMADM, 214, "Operation cancelled", "The command completed, but no more commands are processed in this session", Succeeded, CatNone, omadmSource, adviceNone},
	{SpaceOMADM, 215, "Not executed", "The command was not executed, as a result of user interaction to cancel it", Failed, CatUserCancel, omadmSource, adviceUserCancel},
	{SpaceOMADM, 216, "Atomic roll back OK", "The command was inside an Atomic element and Atomic failed; this command was rolled back successfully", Failed, CatAtomic, omadmSource, "This command was rolled back because another command in the Atomic failed; fix that one and resend."},
	{SpaceOMADM, 400, "Bad request", "The command could not be performed because of malformed syntax", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 401, "Invalid credentials", "The command failed because the requestor must provide proper authentication", Failed, CatAuth, omadmSource, "Check the credentials or token the device uses and renew them or re-enroll the device."},
	{SpaceOMADM, 402, "Payment required", "The command failed because proper payment is required", Failed, CatPolicy, omadmSource, advicePolicy},
	{SpaceOMADM, 403, "Forbidden", "The command failed, but the recipient understood it", Failed, CatPolicy, omadmSource, advicePolicy},
	{SpaceOMADM, 404, "Not found", "The requested target was not found", Failed, CatNotFound, omadmSource, "The node does not exist on the device: check the LocURI (product ID, scope, CSP name) and that an earlier Add created it."},
	{SpaceOMADM, 405, "Command not allowed", "The command is not allowed on the target (for example a write to a read-only node)", Failed, CatCommand, omadmSource, "The command is not allowed on this node (for example a write to a read-only node); use the operation the CSP supports."},
	{SpaceOMADM, 406, "Optional feature not supported", "The command failed because an optional feature in the request is not supported", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 407, "Missing credentials", "The command failed because authentication is required and none was given", Failed, CatAuth, omadmSource, "Check the credentials or token the device uses and renew them or re-enroll the device."},
	{SpaceOMADM, 408, "Request timeout", "An expected message was not received within the required period", Failed, CatNetwork, omadmSource, adviceNetwork},
	{SpaceOMADM, 409, "Conflict", "The command failed because of an update conflict between the client and server versions of the data", Failed, CatConflict, omadmSource, adviceConflict},
	{SpaceOMADM, 410, "Gone", "The target is no longer available and no forwarding address is known", Failed, CatNotFound, omadmSource, adviceNotFound},
	{SpaceOMADM, 411, "Size required", "The command failed because the size of the data item was not given", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 412, "Incomplete command", "The command failed because it was incomplete or incorrectly formed", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 413, "Request entity too large", "The data item is larger than the recipient is willing or able to process", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 414, "URI too long", "The target URI is longer than the recipient is willing to process", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 415, "Unsupported media type or format", "The media type or format of the data item is not supported (also XML parsing or formatting errors)", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 416, "Requested size too big", "The requested size is too big", Failed, CatDisk, omadmSource, adviceDisk},
	{SpaceOMADM, 417, "Retry later", "The recipient cannot process the command now; retry later", Failed, CatConflict, omadmSource, adviceConflict},
	{SpaceOMADM, 418, "Already exists", "The Add or Copy failed because the target already exists", Failed, CatConflict, omadmSource, "The node already exists: send Replace instead of Add, or Delete it first."},
	{SpaceOMADM, 419, "Conflict resolved with server data", "The client's data was replaced with the server's data to resolve a conflict", Failed, CatConflict, omadmSource, adviceConflict},
	{SpaceOMADM, 420, "Device full", "The recipient's storage is full", Failed, CatDisk, omadmSource, adviceDisk},
	{SpaceOMADM, 421, "Unknown search grammar", "The search grammar is not known", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 422, "Bad CGI script", "The CGI script in the target URI is not valid", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 423, "Soft-delete conflict", "The item was previously soft-deleted", Failed, CatConflict, omadmSource, adviceConflict},
	{SpaceOMADM, 424, "Size mismatch", "The received chunked object does not match the size declared in its first chunk", Failed, CatContent, omadmSource, adviceContent},
	{SpaceOMADM, 425, "Permission denied", "The sender lacks the access control permissions (ACL) for the target", Failed, CatPolicy, omadmSource, advicePolicy},
	{SpaceOMADM, 500, "Command failed", "A non-specific error occurred on the recipient (the client could not map the originating error)", Failed, CatClient, omadmSource, "The CSP failed with an error the client could not map; look at msft:originalerror or the device's MDM diagnostics log."},
	{SpaceOMADM, 501, "Command not implemented", "The recipient does not support the command", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 502, "Bad gateway", "The recipient, acting as a gateway or proxy, received an invalid response upstream", Failed, CatNetwork, omadmSource, adviceNetwork},
	{SpaceOMADM, 503, "Service unavailable", "The recipient is temporarily unable to process the command", Failed, CatNetwork, omadmSource, adviceNetwork},
	{SpaceOMADM, 504, "Gateway timeout", "The recipient, acting as a gateway or proxy, got no timely response upstream", Failed, CatNetwork, omadmSource, adviceNetwork},
	{SpaceOMADM, 505, "DTD version not supported", "The SyncML DTD version of the request is not supported", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 506, "Processing error", "An application error occurred while processing the request", Failed, CatClient, omadmSource, adviceClient},
	{SpaceOMADM, 507, "Atomic failed", "An error caused all commands within an Atomic element to fail", Failed, CatAtomic, omadmSource, "One command inside the Atomic failed and took the others with it; find the failing command's status, fix it and resend the Atomic."},
	{SpaceOMADM, 508, "Refresh required", "The synchronisation state must be refreshed", Failed, CatClient, omadmSource, adviceClient},
	{SpaceOMADM, 510, "Data store failure", "An error related to the recipient's data store occurred", Failed, CatClient, omadmSource, adviceClient},
	{SpaceOMADM, 511, "Server failure", "A severe error occurred in the server while processing the request", Failed, CatClient, omadmSource, adviceClient},
	{SpaceOMADM, 512, "Synchronization failed", "An application error occurred during the synchronisation session", Failed, CatClient, omadmSource, adviceClient},
	{SpaceOMADM, 513, "Protocol version not supported", "The SyncML protocol version of the request is not supported", Failed, CatCommand, omadmSource, adviceCommand},
	{SpaceOMADM, 514, "Operation cancelled", "The command was not completed because the operation was already cancelled", Failed, CatUserCancel, omadmSource, adviceUserCancel},
	{SpaceOMADM, 516, "Atomic roll back failed", "The command was inside an Atomic element and Atomic failed; this command was not rolled back", Failed, CatAtomic, omadmSource, "The Atomic failed and this command could not be rolled back; check the node's current state on the device before resending."},
	{SpaceOMADM, 517, "Atomic response too large to fit", "The response to an Atomic command was too large to fit in a single message", Failed, CatCommand, omadmSource, adviceCommand},
}
