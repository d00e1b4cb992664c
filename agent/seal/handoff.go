package seal

// A hand-off is a secret an administrator's command leaves in the data folder for the service
// to take at its next start (wbagentd enrol on Windows, which cannot open the data key: that
// opens only for the service's account). It is protected with ProtectHandoff, kept only until
// the service has sealed it with the data key, and the data folder is readable only by SYSTEM
// and Administrators meanwhile.

// ProtectHandoff protects a secret for the service to take: on Windows with machine-scope
// DPAPI (any account of this PC may open it, the folder's ACL keeps ordinary users out, and a
// copy taken to another PC does not open); elsewhere it is returned as is (the file is 0600
// in a 0700 folder).
func ProtectHandoff(secret []byte) ([]byte, error) { return protectHandoff(secret) }

// UnprotectHandoff opens what ProtectHandoff returned.
func UnprotectHandoff(blob []byte) ([]byte, error) { return unprotectHandoff(blob) }
