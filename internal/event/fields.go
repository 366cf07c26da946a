package event

// Field is one field of contract v1: its JSON key, and the install_events
// column that stores it.
type Field struct {
	// JSON is the key in the event object or, when Product is set, in its
	// product object.
	JSON string
	// Product marks the fields of the product object.
	Product bool
	// Column is the install_events column that holds the field; the product
	// object is flattened into product_<key> columns.
	Column string
	// Type is the column's ClickHouse type as schema/ declares it.
	Type string
	// OmitEmpty: the key is left out when the value is empty ("" or 0).
	// The other fields of the event object are always written, and the JSON
	// Schema requires them; the product object is left out when there is no
	// product.
	OmitEmpty bool
}

// Fields lists every field of contract v1 in wire order: the fields of the
// event object, then those of its product object, written last. It is the
// one list a new field is added to. Event's and Product's json tags, the
// encoder and the decoder (package eventjson), the INSERT (package store),
// the install_events columns and schema/install_event.v1.schema.json are
// derived from it or checked against it by their tests.
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

	{JSON: "name", Product: true, Column: "product_name", Type: "String", OmitEmpty: true},
	{JSON: "version", Product: true, Column: "product_version", Type: "String", OmitEmpty: true},
	{JSON: "publisher", Product: true, Column: "product_publisher", Type: "String", OmitEmpty: true},
	{JSON: "install_date", Product: true, Column: "product_install_date", Type: "String", OmitEmpty: true},
	{JSON: "install_path", Product: true, Column: "product_install_path", Type: "String", OmitEmpty: true},
	{JSON: "last_error_desc", Product: true, Column: "product_last_error_desc", Type: "String", OmitEmpty: true},
}

// ProductKey is the key of the product object in the event object.
const ProductKey = "product"
