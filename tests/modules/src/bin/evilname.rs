//! A transform that changes nothing, whose metadata name holds terminal
//! escape sequences (set title, clear screen), a bidi override and a line
//! break that would fake a line of the host's own output.
sealbox_guest::module_metadata!(
    r#"{"name":"evil\u001b]0;pwned\u0007\u001b[2J\u202e\nerror: fake","version":"0.1.0","kind":"transform","capabilities":{"writeOutput":true}}"#
);

fn main() {
    sealbox_test_modules::config();
    sealbox_test_modules::respond(sealbox_guest::Status::Success, serde_json::Value::Null);
}
