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
}

// hr turns an HRESULT written as its unsigned hex form into the signed 32-bit
// value Parse returns.
func hr(u uint32) int64 { return int64(int32(u)) }

// Sources: the Office CSP reference (status table, FinalStatus), the
// EnterpriseDesktopAppManagement CSP reference (MSI Status values), the
// Windows Installer "MsiExec.exe and InstMsi.exe error messages" and Win32
// "System error codes" references, winerror.h for the COM HRESULTs, and the
// OMA SyncML Representation Protocol status codes (as Windows' "OMA DM
// protocol support" page describes the ones its client returns).
var catalog = []entry{
	// Office CSP ./{Device,User}/Vendor/MSFT/Office/Installation/{id}/Status.
	// Names and descriptions are the Office CSP reference's status table.
	{SpaceOfficeStatus, 0, "ERROR_SUCCESS", "Installation succeeded", Succeeded, CatNone},
	{SpaceOfficeStatus, 997, "ERROR_IO_PENDING", "Installation in progress", InProgress, CatNone},
	{SpaceOfficeStatus, 13, "ERROR_INVALID_DATA", "Cannot verify signature of the downloaded Office Deployment Tool (ODT)", Failed, CatSignature},
	{SpaceOfficeStatus, 1460, "ERROR_TIMEOUT", "Failed to download ODT", Failed, CatNetwork},
	{SpaceOfficeStatus, 1602, "ERROR_INSTALL_USEREXIT", "User canceled the installation", Failed, CatUserCancel},
	{SpaceOfficeStatus, 1603, "ERROR_INSTALL_FAILURE", "Failed any pre-req check: SxS (tried to install when 2016 MSI is installed), or bit mismatch between the currently installed Office and the Office that was attempting to be installed (such as installing a 32-bit version while a 64-bit version is installed)", Failed, CatPrerequisite},
	{SpaceOfficeStatus, 17000, "ERROR_PROCESSPOOL_INITIALIZATION", "Failed to start C2RClient", Failed, CatClient},
	{SpaceOfficeStatus, 17001, "ERROR_QUEUE_SCENARIO", "Failed to queue installation scenario in C2RClient", Failed, CatClient},
	{SpaceOfficeStatus, 17002, "ERROR_COMPLETING_SCENARIO", "Failed to complete the process. Possible reasons: installation canceled by user; installation canceled by another installation; out of disk space during installation; unknown language ID", Failed, CatUnknown},
	{SpaceOfficeStatus, 17003, "ERROR_ANOTHER_RUNNING_SCENARIO", "Another scenario is running", Failed, CatConflict},
	{SpaceOfficeStatus, 17004, "ERROR_COMPLETING_SCENARIO_NEED_CLEAN_UP", "Possible reasons: unknown SKUs; content doesn't exist on CDN (such as an unsupported LAP like zh-sg, or a CDN issue that content is not available); signature check issue, such as failed the signature check for Office content; user canceled", Failed, CatContent},
	{SpaceOfficeStatus, 17005, "ERROR_SCENARIO_CANCELLED_AS_PLANNED", "The scenario was cancelled as planned", Failed, CatUnknown},
	{SpaceOfficeStatus, 17006, "ERROR_SCENARIO_CANCELLED", "Blocked update by running apps", Failed, CatConflict},
	{SpaceOfficeStatus, 17007, "ERROR_REMOVE_INSTALLATION_NEEDED", "The client is requesting client clean-up in a \"Remove Installation\" scenario", Failed, CatClient},
	{SpaceOfficeStatus, 17100, "ERROR_HANDLING_COMMAND_LINE", "C2RClient command-line error", Failed, CatCommand},
	{SpaceOfficeStatus, hr(0x80004005), "E_FAIL", "ODT cannot be used to install Volume license", Failed, CatPrerequisite},
	{SpaceOfficeStatus, hr(0x8000FFFF), "E_UNEXPECTED", "Tried to uninstall when there is no C2R Office on the machine", Failed, CatNotFound},

	// Office CSP .../Installation/{id}/FinalStatus, created when the install
	// reaches a terminal state.
	{SpaceOfficeFinal, 60, "FAILED", "Office installation reached a terminal state with a non-zero Status", Failed, CatUnknown},
	{SpaceOfficeFinal, 70, "SUCCEEDED", "Office installation reached a terminal state with Status 0", Succeeded, CatNone},

	// EnterpriseDesktopAppManagement .../MSI/{ProductID}/Status.
	{SpaceMSIStatus, 10, "Initialized", "The install job was created and has not started", Pending, CatNone},
	{SpaceMSIStatus, 20, "Download In Progress", "The MSI is being downloaded", InProgress, CatNone},
	{SpaceMSIStatus, 25, "Pending Download Retry", "The download failed and will be retried", Retrying, CatNetwork},
	{SpaceMSIStatus, 30, "Download Failed", "The download failed after its retries; see LastError", Failed, CatNetwork},
	{SpaceMSIStatus, 40, "Download Completed", "The MSI was downloaded and validated; enforcement follows", InProgress, CatNone},
	{SpaceMSIStatus, 48, "Pending User Session", "Waiting for the user to sign in before installing in the user's context", Pending, CatNone},
	{SpaceMSIStatus, 50, "Enforcement In Progress", "msiexec is installing the MSI", InProgress, CatNone},
	{SpaceMSIStatus, 55, "Pending Enforcement Retry", "The install failed and will be retried", Retrying, CatNone},
	{SpaceMSIStatus, 60, "Enforcement Failed", "The install failed after its retries; see LastError", Failed, CatUnknown},
	{SpaceMSIStatus, 70, "Enforcement Completed", "The MSI was installed", Succeeded, CatNone},

	// Win32 system error codes that installs report.
	{SpaceWin32, 0, "ERROR_SUCCESS", "The action completed successfully.", Succeeded, CatNone},
	{SpaceWin32, 2, "ERROR_FILE_NOT_FOUND", "The system cannot find the file specified.", Failed, CatContent},
	{SpaceWin32, 3, "ERROR_PATH_NOT_FOUND", "The system cannot find the path specified.", Failed, CatContent},
	{SpaceWin32, 5, "ERROR_ACCESS_DENIED", "Access is denied.", Failed, CatPolicy},
	{SpaceWin32, 8, "ERROR_NOT_ENOUGH_MEMORY", "Not enough memory resources are available to process this command.", Failed, CatClient},
	{SpaceWin32, 13, "ERROR_INVALID_DATA", "The data is invalid.", Failed, CatContent},
	{SpaceWin32, 14, "ERROR_OUTOFMEMORY", "Not enough memory resources are available to complete this operation.", Failed, CatClient},
	{SpaceWin32, 32, "ERROR_SHARING_VIOLATION", "The process cannot access the file because it is being used by another process.", Failed, CatDisk},
	{SpaceWin32, 87, "ERROR_INVALID_PARAMETER", "The parameter is incorrect.", Failed, CatCommand},
	{SpaceWin32, 112, "ERROR_DISK_FULL", "There is not enough space on the disk.", Failed, CatDisk},
	{SpaceWin32, 1223, "ERROR_CANCELLED", "The operation was canceled by the user.", Failed, CatUserCancel},
	{SpaceWin32, 1260, "ERROR_ACCESS_DISABLED_BY_POLICY", "This program is blocked by group policy.", Failed, CatPolicy},
	{SpaceWin32, 1392, "ERROR_FILE_CORRUPT", "The file or directory is corrupted and unreadable.", Failed, CatContent},
	{SpaceWin32, 1460, "ERROR_TIMEOUT", "This operation returned because the timeout period expired.", Failed, CatNetwork},

	// Windows Installer (msiexec) return codes.
	{SpaceWin32, 1601, "ERROR_INSTALL_SERVICE_FAILURE", "The Windows Installer service could not be accessed.", Failed, CatClient},
	{SpaceWin32, 1602, "ERROR_INSTALL_USEREXIT", "The user canceled the installation.", Failed, CatUserCancel},
	{SpaceWin32, 1603, "ERROR_INSTALL_FAILURE", "A fatal error occurred during installation.", Failed, CatUnknown},
	{SpaceWin32, 1604, "ERROR_INSTALL_SUSPEND", "Installation suspended, incomplete.", Failed, CatUnknown},
	{SpaceWin32, 1605, "ERROR_UNKNOWN_PRODUCT", "This action is only valid for products that are currently installed.", Failed, CatNotFound},
	{SpaceWin32, 1606, "ERROR_UNKNOWN_FEATURE", "The feature identifier is not registered.", Failed, CatNotFound},
	{SpaceWin32, 1607, "ERROR_UNKNOWN_COMPONENT", "The component identifier is not registered.", Failed, CatNotFound},
	{SpaceWin32, 1608, "ERROR_UNKNOWN_PROPERTY", "This is an unknown property.", Failed, CatNotFound},
	{SpaceWin32, 1609, "ERROR_INVALID_HANDLE_STATE", "The handle is in an invalid state.", Failed, CatClient},
	{SpaceWin32, 1610, "ERROR_BAD_CONFIGURATION", "The configuration data for this product is corrupt.", Failed, CatContent},
	{SpaceWin32, 1612, "ERROR_INSTALL_SOURCE_ABSENT", "The installation source for this product is not available.", Failed, CatContent},
	{SpaceWin32, 1613, "ERROR_INSTALL_PACKAGE_VERSION", "This installation package cannot be installed by the Windows Installer service; a newer version of the Windows Installer service is required.", Failed, CatPrerequisite},
	{SpaceWin32, 1614, "ERROR_PRODUCT_UNINSTALLED", "The product is uninstalled.", Failed, CatNotFound},
	{SpaceWin32, 1615, "ERROR_BAD_QUERY_SYNTAX", "The SQL query syntax is invalid or unsupported.", Failed, CatContent},
	{SpaceWin32, 1616, "ERROR_INVALID_FIELD", "The record field does not exist.", Failed, CatContent},
	{SpaceWin32, 1618, "ERROR_INSTALL_ALREADY_RUNNING", "Another installation is already in progress.", Failed, CatConflict},
	{SpaceWin32, 1619, "ERROR_INSTALL_PACKAGE_OPEN_FAILED", "This installation package could not be opened. Verify that the package exists and is accessible.", Failed, CatContent},
	{SpaceWin32, 1620, "ERROR_INSTALL_PACKAGE_INVALID", "This installation package could not be opened; it is not a valid Windows Installer package.", Failed, CatContent},
	{SpaceWin32, 1621, "ERROR_INSTALL_UI_FAILURE", "There was an error starting the Windows Installer service user interface.", Failed, CatClient},
	{SpaceWin32, 1622, "ERROR_INSTALL_LOG_FAILURE", "There was an error opening the installation log file.", Failed, CatDisk},
	{SpaceWin32, 1623, "ERROR_INSTALL_LANGUAGE_UNSUPPORTED", "The language of this installation package is not supported by your system.", Failed, CatPrerequisite},
	{SpaceWin32, 1624, "ERROR_INSTALL_TRANSFORM_FAILURE", "There was an error applying transforms.", Failed, CatContent},
	{SpaceWin32, 1625, "ERROR_INSTALL_PACKAGE_REJECTED", "This installation is forbidden by system policy.", Failed, CatPolicy},
	{SpaceWin32, 1626, "ERROR_FUNCTION_NOT_CALLED", "The function could not be executed.", Failed, CatContent},
	{SpaceWin32, 1627, "ERROR_FUNCTION_FAILED", "The function failed during execution.", Failed, CatContent},
	{SpaceWin32, 1628, "ERROR_INVALID_TABLE", "An invalid or unknown table was specified.", Failed, CatContent},
	{SpaceWin32, 1629, "ERROR_DATATYPE_MISMATCH", "The data supplied is the wrong type.", Failed, CatContent},
	{SpaceWin32, 1630, "ERROR_UNSUPPORTED_TYPE", "Data of this type is not supported.", Failed, CatContent},
	{SpaceWin32, 1631, "ERROR_CREATE_FAILED", "The Windows Installer service failed to start.", Failed, CatClient},
	{SpaceWin32, 1632, "ERROR_INSTALL_TEMP_UNWRITABLE", "The Temp folder is either full or inaccessible.", Failed, CatDisk},
	{SpaceWin32, 1633, "ERROR_INSTALL_PLATFORM_UNSUPPORTED", "This installation package is not supported on this platform.", Failed, CatPrerequisite},
	{SpaceWin32, 1634, "ERROR_INSTALL_NOTUSED", "Component is not used on this machine.", Failed, CatNotFound},
	{SpaceWin32, 1635, "ERROR_PATCH_PACKAGE_OPEN_FAILED", "This patch package could not be opened.", Failed, CatContent},
	{SpaceWin32, 1636, "ERROR_PATCH_PACKAGE_INVALID", "This patch package could not be opened; it is not a valid Windows Installer patch package.", Failed, CatContent},
	{SpaceWin32, 1637, "ERROR_PATCH_PACKAGE_UNSUPPORTED", "This patch package cannot be processed by the Windows Installer service; a newer version of the Windows Installer service is required.", Failed, CatPrerequisite},
	{SpaceWin32, 1638, "ERROR_PRODUCT_VERSION", "Another version of this product is already installed.", Failed, CatConflict},
	{SpaceWin32, 1639, "ERROR_INVALID_COMMAND_LINE", "Invalid command line argument.", Failed, CatCommand},
	{SpaceWin32, 1640, "ERROR_INSTALL_REMOTE_DISALLOWED", "The current user is not permitted to perform installations from a client session of a server running the Terminal Server role service.", Failed, CatPolicy},
	{SpaceWin32, 1641, "ERROR_SUCCESS_REBOOT_INITIATED", "The installer has initiated a restart. This message indicates success.", Succeeded, CatRebootRequired},
	{SpaceWin32, 1642, "ERROR_PATCH_TARGET_NOT_FOUND", "The installer cannot install the upgrade patch because the program being upgraded may be missing or the patch updates a different version of the program.", Failed, CatNotFound},
	{SpaceWin32, 1643, "ERROR_PATCH_PACKAGE_REJECTED", "The patch package is not permitted by system policy.", Failed, CatPolicy},
	{SpaceWin32, 1644, "ERROR_INSTALL_TRANSFORM_REJECTED", "One or more customizations are not permitted by system policy.", Failed, CatPolicy},
	{SpaceWin32, 1645, "ERROR_INSTALL_REMOTE_PROHIBITED", "Windows Installer does not permit installation from a Remote Desktop Connection.", Failed, CatPolicy},
	{SpaceWin32, 1646, "ERROR_PATCH_REMOVAL_UNSUPPORTED", "The patch package is not a removable patch package.", Failed, CatContent},
	{SpaceWin32, 1647, "ERROR_UNKNOWN_PATCH", "The patch is not applied to this product.", Failed, CatNotFound},
	{SpaceWin32, 1648, "ERROR_PATCH_NO_SEQUENCE", "No valid sequence could be found for the set of patches.", Failed, CatContent},
	{SpaceWin32, 1649, "ERROR_PATCH_REMOVAL_DISALLOWED", "Patch removal was disallowed by policy.", Failed, CatPolicy},
	{SpaceWin32, 1650, "ERROR_INVALID_PATCH_XML", "The XML patch data is invalid.", Failed, CatContent},
	{SpaceWin32, 1652, "ERROR_INSTALL_SERVICE_SAFEBOOT", "Windows Installer is not accessible when the computer is in Safe Mode.", Failed, CatClient},
	{SpaceWin32, 3010, "ERROR_SUCCESS_REBOOT_REQUIRED", "A restart is required to complete the install. This message indicates success.", Succeeded, CatRebootRequired},

	// Click-to-Run codes, as the Office CSP reference names them; devices
	// also send them in generic install alerts.
	{SpaceWin32, 17000, "ERROR_PROCESSPOOL_INITIALIZATION", "Failed to start C2RClient", Failed, CatClient},
	{SpaceWin32, 17001, "ERROR_QUEUE_SCENARIO", "Failed to queue installation scenario in C2RClient", Failed, CatClient},
	{SpaceWin32, 17002, "ERROR_COMPLETING_SCENARIO", "Failed to complete the process (canceled by the user or by another installation, out of disk space, or unknown language ID)", Failed, CatUnknown},
	{SpaceWin32, 17003, "ERROR_ANOTHER_RUNNING_SCENARIO", "Another scenario is running", Failed, CatConflict},
	{SpaceWin32, 17004, "ERROR_COMPLETING_SCENARIO_NEED_CLEAN_UP", "Unknown SKUs, content not available on the CDN, a failed signature check of Office content, or canceled by the user", Failed, CatContent},
	{SpaceWin32, 17005, "ERROR_SCENARIO_CANCELLED_AS_PLANNED", "The scenario was cancelled as planned", Failed, CatUnknown},
	{SpaceWin32, 17006, "ERROR_SCENARIO_CANCELLED", "Blocked update by running apps", Failed, CatConflict},
	{SpaceWin32, 17007, "ERROR_REMOVE_INSTALLATION_NEEDED", "The client is requesting client clean-up in a \"Remove Installation\" scenario", Failed, CatClient},
	{SpaceWin32, 17100, "ERROR_HANDLING_COMMAND_LINE", "C2RClient command-line error", Failed, CatCommand},

	// WinINet errors of downloads.
	{SpaceWin32, 12002, "ERROR_INTERNET_TIMEOUT", "The request has timed out.", Failed, CatNetwork},
	{SpaceWin32, 12007, "ERROR_INTERNET_NAME_NOT_RESOLVED", "The server name or address could not be resolved.", Failed, CatNetwork},
	{SpaceWin32, 12029, "ERROR_INTERNET_CANNOT_CONNECT", "The attempt to connect to the server failed.", Failed, CatNetwork},

	// HRESULTs with their own names. Any other FACILITY_WIN32 HRESULT
	// (0x8007xxxx) resolves to its Win32 entry above.
	{SpaceHRESULT, 0, "S_OK", "Operation successful", Succeeded, CatNone},
	{SpaceHRESULT, 1, "S_FALSE", "Operation successful, with a false result", Succeeded, CatNone},
	{SpaceHRESULT, hr(0x8000000A), "E_PENDING", "The data necessary to complete this operation is not yet available.", Failed, CatUnknown},
	{SpaceHRESULT, hr(0x80004001), "E_NOTIMPL", "Not implemented", Failed, CatCommand},
	{SpaceHRESULT, hr(0x80004002), "E_NOINTERFACE", "No such interface supported", Failed, CatClient},
	{SpaceHRESULT, hr(0x80004003), "E_POINTER", "Pointer that is not valid", Failed, CatClient},
	{SpaceHRESULT, hr(0x80004004), "E_ABORT", "Operation aborted", Failed, CatUnknown},
	{SpaceHRESULT, hr(0x80004005), "E_FAIL", "Unspecified failure", Failed, CatUnknown},
	{SpaceHRESULT, hr(0x8000FFFF), "E_UNEXPECTED", "Unexpected failure", Failed, CatUnknown},
	{SpaceHRESULT, hr(0x80070005), "E_ACCESSDENIED", "General access denied error (ERROR_ACCESS_DENIED)", Failed, CatPolicy},
	{SpaceHRESULT, hr(0x80070006), "E_HANDLE", "Handle that is not valid (ERROR_INVALID_HANDLE)", Failed, CatClient},
	{SpaceHRESULT, hr(0x8007000E), "E_OUTOFMEMORY", "Failed to allocate necessary memory (ERROR_OUTOFMEMORY)", Failed, CatClient},
	{SpaceHRESULT, hr(0x80070057), "E_INVALIDARG", "One or more arguments are not valid (ERROR_INVALID_PARAMETER)", Failed, CatCommand},
	{SpaceHRESULT, hr(0x800B0100), "TRUST_E_NOSIGNATURE", "No signature was present in the subject.", Failed, CatSignature},
	{SpaceHRESULT, hr(0x800B0109), "CERT_E_UNTRUSTEDROOT", "A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider.", Failed, CatSignature},
	{SpaceHRESULT, hr(0x80096010), "TRUST_E_BAD_DIGEST", "The digital signature of the object did not verify.", Failed, CatSignature},

	// OMA-DM status codes (SyncML Representation Protocol), in Status/Data.
	{SpaceOMADM, 200, "OK", "The command completed successfully", Succeeded, CatNone},
	{SpaceOMADM, 202, "Accepted for processing", "The command was accepted and runs asynchronously; its result comes later (for installs: a generic alert)", InProgress, CatNone},
	{SpaceOMADM, 212, "Authentication accepted", "Authentication accepted; normally only in answer to SyncHdr", Succeeded, CatNone},
	{SpaceOMADM, 213, "Chunked item accepted and buffered", "A chunk of a large object was accepted and buffered", InProgress, CatNone},
	{SpaceOMADM, 214, "Operation cancelled", "The command completed, but no more commands are processed in this session", Succeeded, CatNone},
	{SpaceOMADM, 215, "Not executed", "The command was not executed, as a result of user interaction to cancel it", Failed, CatUserCancel},
	{SpaceOMADM, 216, "Atomic roll back OK", "The command was inside an Atomic element and Atomic failed; this command was rolled back successfully", Failed, CatUnknown},
	{SpaceOMADM, 400, "Bad request", "The command could not be performed because of malformed syntax", Failed, CatCommand},
	{SpaceOMADM, 401, "Invalid credentials", "The command failed because the requestor must provide proper authentication", Failed, CatAuth},
	{SpaceOMADM, 402, "Payment required", "The command failed because proper payment is required", Failed, CatPolicy},
	{SpaceOMADM, 403, "Forbidden", "The command failed, but the recipient understood it", Failed, CatPolicy},
	{SpaceOMADM, 404, "Not found", "The requested target was not found", Failed, CatNotFound},
	{SpaceOMADM, 405, "Command not allowed", "The command is not allowed on the target (for example a write to a read-only node)", Failed, CatCommand},
	{SpaceOMADM, 406, "Optional feature not supported", "The command failed because an optional feature in the request is not supported", Failed, CatCommand},
	{SpaceOMADM, 407, "Missing credentials", "The command failed because authentication is required and none was given", Failed, CatAuth},
	{SpaceOMADM, 408, "Request timeout", "An expected message was not received within the required period", Failed, CatNetwork},
	{SpaceOMADM, 409, "Conflict", "The command failed because of an update conflict between the client and server versions of the data", Failed, CatConflict},
	{SpaceOMADM, 410, "Gone", "The target is no longer available and no forwarding address is known", Failed, CatNotFound},
	{SpaceOMADM, 411, "Size required", "The command failed because the size of the data item was not given", Failed, CatCommand},
	{SpaceOMADM, 412, "Incomplete command", "The command failed because it was incomplete or incorrectly formed", Failed, CatCommand},
	{SpaceOMADM, 413, "Request entity too large", "The data item is larger than the recipient is willing or able to process", Failed, CatCommand},
	{SpaceOMADM, 414, "URI too long", "The target URI is longer than the recipient is willing to process", Failed, CatCommand},
	{SpaceOMADM, 415, "Unsupported media type or format", "The media type or format of the data item is not supported (also XML parsing or formatting errors)", Failed, CatCommand},
	{SpaceOMADM, 416, "Requested size too big", "The requested size is too big", Failed, CatDisk},
	{SpaceOMADM, 417, "Retry later", "The recipient cannot process the command now; retry later", Failed, CatConflict},
	{SpaceOMADM, 418, "Already exists", "The Add or Copy failed because the target already exists", Failed, CatConflict},
	{SpaceOMADM, 419, "Conflict resolved with server data", "The client's data was replaced with the server's data to resolve a conflict", Failed, CatConflict},
	{SpaceOMADM, 420, "Device full", "The recipient's storage is full", Failed, CatDisk},
	{SpaceOMADM, 421, "Unknown search grammar", "The search grammar is not known", Failed, CatCommand},
	{SpaceOMADM, 422, "Bad CGI script", "The CGI script in the target URI is not valid", Failed, CatCommand},
	{SpaceOMADM, 423, "Soft-delete conflict", "The item was previously soft-deleted", Failed, CatConflict},
	{SpaceOMADM, 424, "Size mismatch", "The received chunked object does not match the size declared in its first chunk", Failed, CatContent},
	{SpaceOMADM, 425, "Permission denied", "The sender lacks the access control permissions (ACL) for the target", Failed, CatPolicy},
	{SpaceOMADM, 500, "Command failed", "A non-specific error occurred on the recipient (the client could not map the originating error)", Failed, CatUnknown},
	{SpaceOMADM, 501, "Command not implemented", "The recipient does not support the command", Failed, CatCommand},
	{SpaceOMADM, 502, "Bad gateway", "The recipient, acting as a gateway or proxy, received an invalid response upstream", Failed, CatNetwork},
	{SpaceOMADM, 503, "Service unavailable", "The recipient is temporarily unable to process the command", Failed, CatNetwork},
	{SpaceOMADM, 504, "Gateway timeout", "The recipient, acting as a gateway or proxy, got no timely response upstream", Failed, CatNetwork},
	{SpaceOMADM, 505, "DTD version not supported", "The SyncML DTD version of the request is not supported", Failed, CatCommand},
	{SpaceOMADM, 506, "Processing error", "An application error occurred while processing the request", Failed, CatClient},
	{SpaceOMADM, 507, "Atomic failed", "An error caused all commands within an Atomic element to fail", Failed, CatUnknown},
	{SpaceOMADM, 508, "Refresh required", "The synchronisation state must be refreshed", Failed, CatClient},
	{SpaceOMADM, 510, "Data store failure", "An error related to the recipient's data store occurred", Failed, CatClient},
	{SpaceOMADM, 511, "Server failure", "A severe error occurred in the server while processing the request", Failed, CatClient},
	{SpaceOMADM, 512, "Synchronization failed", "An application error occurred during the synchronisation session", Failed, CatClient},
	{SpaceOMADM, 513, "Protocol version not supported", "The SyncML protocol version of the request is not supported", Failed, CatCommand},
	{SpaceOMADM, 514, "Operation cancelled", "The command was not completed because the operation was already cancelled", Failed, CatUserCancel},
	{SpaceOMADM, 516, "Atomic roll back failed", "The command was inside an Atomic element and Atomic failed; this command was not rolled back", Failed, CatUnknown},
	{SpaceOMADM, 517, "Atomic response too large to fit", "The response to an Atomic command was too large to fit in a single message", Failed, CatCommand},
}
