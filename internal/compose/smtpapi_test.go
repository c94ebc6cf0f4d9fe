package compose

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSMTPAPI(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  Meta
	}{
		{"empty object", `{}`, Meta{}},
		{"category string", `{"category":"news"}`, Meta{Categories: []string{"news"}}},
		{"category list", `{"category":["a","b"]}`, Meta{Categories: []string{"a", "b"}}},
		{"everything", `{"category":["a"],"unique_args":{"order":"42","user":"u"},"send_at":1709634600,"asm_group_id":7,"batch_id":"B-1",
			"filters":{"clicktrack":{"settings":{"enable":1}}},"ip_pool":"pool","asm_groups_to_display":[7,8]}`,
			Meta{Categories: []string{"a"}, CustomArgs: map[string]string{"order": "42", "user": "u"},
				SendAt: time.Unix(1709634600, 0).UTC(), ASMGroupID: 7, BatchID: "B-1"}},
		{"folded whitespace", "{\"category\":\r\n \"a\"}", Meta{Categories: []string{"a"}}},
		{"nulls", `{"category":null,"unique_args":null,"send_at":null}`, Meta{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSMTPAPI(tt.value)
			if err != nil {
				t.Fatalf("%v\n%s", err, errList(err))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSMTPAPIBad(t *testing.T) {
	tests := []struct {
		name, value, field string
	}{
		{"empty", ``, ""},
		{"not JSON", `{"category":`, ""},
		{"garbage", `category=news`, ""},
		{"array", `["a"]`, ""},
		{"trailing", `{} {}`, ""},
		{"too big", `{"category":"` + strings.Repeat("a", MaxSMTPAPIBytes) + `"}`, ""},
		{"too deep", `{"filters":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat("}", 41), ""},
		{"to", `{"to":["a@example.com"]}`, "to"},
		{"sub", `{"sub":{"-name-":["A"]}}`, "sub"},
		{"section", `{"section":{"-s-":"x"}}`, "section"},
		{"send_each_at", `{"send_each_at":[1]}`, "send_each_at"},
		{"unknown", `{"categories":["a"]}`, "categories"},
		{"duplicate", `{"category":"a","category":"b"}`, "category"},
		{"category number", `{"category":5}`, "category"},
		{"category item number", `{"category":["a",5]}`, "category.1"},
		{"category empty", `{"category":""}`, "category.0"},
		{"category too long", `{"category":"` + strings.Repeat("c", 256) + `"}`, "category.0"},
		{"category twice", `{"category":["a","a"]}`, "category.1"},
		{"too many categories", `{"category":["1","2","3","4","5","6","7","8","9","10","11"]}`, "category"},
		{"unique_args number", `{"unique_args":{"order":42}}`, "unique_args.order"},
		{"unique_args not object", `{"unique_args":"x"}`, "unique_args"},
		{"unique_args too big", `{"unique_args":{"k":"` + strings.Repeat("v", MaxCustomArgsBytes) + `"}}`, "unique_args"},
		{"send_at string", `{"send_at":"1709634600"}`, "send_at"},
		{"send_at negative", `{"send_at":-5}`, "send_at"},
		{"send_at float", `{"send_at":1.5}`, "send_at"},
		{"asm_group_id zero", `{"asm_group_id":0}`, "asm_group_id"},
		{"batch_id space", `{"batch_id":"a b"}`, "batch_id"},
		{"filters not object", `{"filters":[]}`, "filters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseSMTPAPI(tt.value)
			if err == nil {
				t.Fatalf("ParseSMTPAPI = %+v, want an error for %q", m, tt.field)
			}
			fs := fields(t, err)
			if !hasField(fs, tt.field) {
				t.Fatalf("fields %q, want %q\n%s", fs, tt.field, errList(err))
			}
			checkSafe(t, err)
		})
	}
}

func TestCheckSendAt(t *testing.T) {
	opts := Options{Now: testNow}
	tests := []struct {
		at      time.Time
		want    time.Time
		wantErr bool
	}{
		{time.Time{}, time.Time{}, false},
		{testNow.Add(-time.Hour), time.Time{}, false},
		{testNow, time.Time{}, false},
		{testNow.Add(time.Minute), testNow.Add(time.Minute), false},
		{testNow.Add(72 * time.Hour), testNow.Add(72 * time.Hour), false},
		{testNow.Add(72*time.Hour + time.Second), time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := CheckSendAt(tt.at, opts)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("CheckSendAt(%v) = %v, %v", tt.at, got, err)
		}
		if err != nil && !hasField(fields(t, err), "send_at") {
			t.Errorf("field: %v", err)
		}
	}
}
