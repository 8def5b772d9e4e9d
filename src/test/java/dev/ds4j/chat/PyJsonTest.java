package dev.ds4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.InputStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Our json.loads/json.dumps emulation against CPython's own output (tools/reference/make_pyjson_cases.py). */
class PyJsonTest {
    @Test
    void matchesCPythonOnEveryCase() throws Exception {
        JsonNode cases;
        try (InputStream in = getClass().getResourceAsStream("/chat/pyjson-cases.json")) {
            cases = PyJson.MAPPER.readTree(in);
        }
        assertThat(cases.size()).isGreaterThan(600);
        for (JsonNode c : cases) {
            String input = c.get("input").textValue();
            assertThat(PyJson.dumps(PyJson.loads(input))).as(input).isEqualTo(c.get("dumps").textValue());
        }
    }

    @Test
    void floatReprFollowsPythonsRules() {
        // Values from CHAT_FORMAT §3.9.
        assertThat(PyJson.floatRepr(1e5)).isEqualTo("100000.0");
        assertThat(PyJson.floatRepr(1e16)).isEqualTo("1e+16");
        assertThat(PyJson.floatRepr(1e-5)).isEqualTo("1e-05");
        assertThat(PyJson.floatRepr(0.0001)).isEqualTo("0.0001");
        assertThat(PyJson.floatRepr(-0.0)).isEqualTo("-0.0");
        assertThat(PyJson.floatRepr(1.5e300)).isEqualTo("1.5e+300");
    }
}
