package event

// Field is one field of contract v1: its JSON key, and the install_events
// column that stores it.
type Field struct {
	// JSON is the key in the event object or, when Object is set, in that
	// nested object.
	JSON string
	// Object is the key of the nested object holding the field (one of
	// Objects), or "" for a field of the event object itself.
	Object string
	// Column is the install_events column that holds the field; a nested
	// object is flattened into columns named by its Object.ColumnPrefix
	// and the field's key.
	Column string
	// Type is the column's ClickHouse type as schema/ declares it:
	// String, Int64, UInt8 (an int or a bool), DateTime, or Array(String)
	// (a JSON array of strings).
	Type string
	// OmitEmpty: the key is left out when the value is empty ("", 0,
	// false, an empty array). The other fields of the event object are
	// always written, and the JSON Schema requires them; a nested object is
	// left out when the event has none.
	OmitEmpty bool
}

// Path is the field's key, prefixed with its object's ("product.name").
func (f Field) Path() string {
	if f.Object == "" {
		return f.JSON
	}
	return f.Object + "." + f.JSON
}

// Object is a nested object of the event: a pointer field of Event, written
// after the event's own fields, in the order of Objects, when not nil.
type Object struct {
	// Key is the object's key in the event object.
	Key string
	// ColumnPrefix starts the install_events column of each of its fields.
	ColumnPrefix string
}

// Keys of the nested objects.
const (
	ProductKey      = "product"
	MSIJobKey       = "msi_job"
	OfficeConfigKey = "office_config"
)

// Objects are the event's nested objects in wire order: Event's last
// fields, Product, MSIJob and OfficeConfig.
var Objects = []Object{
	{Key: ProductKey, ColumnPrefix: "product_"},
	{Key: MSIJobKey, ColumnPrefix: "msi_job_"},
	{Key: OfficeConfigKey, ColumnPrefix: "office_"},
}

// Fields lists every field of contract v1 in wire order: the fields of the
// event object, then those of each nested object in the order of Objects,
// written last. It is the one list a new field is added to. The json tags
// of Event and its objects, the encoder and the decoder (package
// eventjson), the INSERT (package store), the install_events columns and
// schema/install_event.v1.schema.json are derived from it or checked
// against it by their tests.
var Fields = []Field{
	{JSON: "event_id", Column: "event_id", Type: "String"},
	{JSON: "schema_version", Column: "schema_version", Type: "UInt8"},
	// Whole seconds: the milliseconds go to the storage-only column
	// received_ms (DateTime64 does not exist on ClickHouse 18.16).
	{JSON: "received_at", Column: "received_at", Type: "DateTime"},
	{JSON: "tenant", Column: "tenant", Type: "String"},
	{JSON: "device_id", Column: "device_id", Type: "String"},
	{JSON: "session_id", Column: "session_id", Type: "String"},
	{JSON: "msg_id", Column: "msg_id", Type: "String"},
	{JSON: "kind", Column: "kind", Type: "String"},
	{JSON: "cmd_id", Column: "cmd_id", Type: "Int64"},
	{JSON: "cmd_ref", Column: "cmd_ref", Type: "Int64"},
	{JSON: "scope", Column: "scope", Type: "String"},
	{JSON: "csp", Column: "csp", Type: "String"},
	{JSON: "target_id", Column: "target_id", Type: "String"},
	{JSON: "node", Column: "node", Type: "String"},
	{JSON: "loc_uri", Column: "loc_uri", Type: "String"},
	{JSON: "code", Column: "code", Type: "Int64"},
	{JSON: "code_hex", Column: "code_hex", Type: "String", OmitEmpty: true},
	{JSON: "win32_code", Column: "win32_code", Type: "Int64", OmitEmpty: true},
	{JSON: "code_space", Column: "code_space", Type: "String", OmitEmpty: true},
	{JSON: "code_name", Column: "code_name", Type: "String", OmitEmpty: true},
	{JSON: "outcome", Column: "outcome", Type: "String"},
	{JSON: "category", Column: "category", Type: "String", OmitEmpty: true},
	{JSON: "alert_type", Column: "alert_type", Type: "String", OmitEmpty: true},
	{JSON: "mark", Column: "mark", Type: "String", OmitEmpty: true},
	{JSON: "text", Column: "text", Type: "String", OmitEmpty: true},
	{JSON: "original_error", Column: "original_error", Type: "String", OmitEmpty: true},
	{JSON: "mdm_received_at", Column: "mdm_received_at", Type: "String", OmitEmpty: true},
	{JSON: "mdm_generic_alert", Column: "mdm_generic_alert", Type: "String", OmitEmpty: true},
	{JSON: "cmd_id_raw", Column: "cmd_id_raw", Type: "String", OmitEmpty: true},
	{JSON: "msg_ref", Column: "msg_ref", Type: "String", OmitEmpty: true},
	{JSON: "cmd_ref_raw", Column: "cmd_ref_raw", Type: "String", OmitEmpty: true},
	{JSON: "command", Column: "command", Type: "String", OmitEmpty: true},
	{JSON: "payload_error", Column: "payload_error", Type: "String", OmitEmpty: true},

	{JSON: "name", Object: ProductKey, Column: "product_name", Type: "String", OmitEmpty: true},
	{JSON: "version", Object: ProductKey, Column: "product_version", Type: "String", OmitEmpty: true},
	{JSON: "publisher", Object: ProductKey, Column: "product_publisher", Type: "String", OmitEmpty: true},
	{JSON: "install_date", Object: ProductKey, Column: "product_install_date", Type: "String", OmitEmpty: true},
	{JSON: "install_path", Object: ProductKey, Column: "product_install_path", Type: "String", OmitEmpty: true},
	{JSON: "last_error_desc", Object: ProductKey, Column: "product_last_error_desc", Type: "String", OmitEmpty: true},

	{JSON: "id", Object: MSIJobKey, Column: "msi_job_id", Type: "String", OmitEmpty: true},
	{JSON: "product_version", Object: MSIJobKey, Column: "msi_job_product_version", Type: "String", OmitEmpty: true},
	{JSON: "content_urls", Object: MSIJobKey, Column: "msi_job_content_urls", Type: "Array(String)", OmitEmpty: true},
	{JSON: "file_name", Object: MSIJobKey, Column: "msi_job_file_name", Type: "String", OmitEmpty: true},
	{JSON: "file_hash", Object: MSIJobKey, Column: "msi_job_file_hash", Type: "String", OmitEmpty: true},
	{JSON: "command_line", Object: MSIJobKey, Column: "msi_job_command_line", Type: "String", OmitEmpty: true},
	{JSON: "timeout_min", Object: MSIJobKey, Column: "msi_job_timeout_min", Type: "Int64", OmitEmpty: true},
	{JSON: "retry_count", Object: MSIJobKey, Column: "msi_job_retry_count", Type: "Int64", OmitEmpty: true},
	{JSON: "retry_interval_min", Object: MSIJobKey, Column: "msi_job_retry_interval_min", Type: "Int64", OmitEmpty: true},

	{JSON: "product_ids", Object: OfficeConfigKey, Column: "office_product_ids", Type: "Array(String)", OmitEmpty: true},
	{JSON: "channel", Object: OfficeConfigKey, Column: "office_channel", Type: "String", OmitEmpty: true},
	{JSON: "version", Object: OfficeConfigKey, Column: "office_version", Type: "String", OmitEmpty: true},
	{JSON: "edition", Object: OfficeConfigKey, Column: "office_edition", Type: "String", OmitEmpty: true},
	{JSON: "languages", Object: OfficeConfigKey, Column: "office_languages", Type: "Array(String)", OmitEmpty: true},
	{JSON: "remove", Object: OfficeConfigKey, Column: "office_remove", Type: "UInt8", OmitEmpty: true},
}
