//! Small form widgets every panel uses, so settings look and behave alike.

use leptos::prelude::*;

use crate::backend::GpuFailure;

/// A labelled text box bound to `value` (numbers are typed as text and parsed by the panel,
/// which names the setting in its message when they do not parse).
pub fn text_field(id: impl Into<String>, label: &'static str, value: RwSignal<String>, size: u32) -> impl IntoView {
    let id: String = id.into();
    view! {
        <label class="setting">{label}" "
            <input id=id type="text" size=size prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

/// A text field that is greyed out, with `why_off` as its tooltip, while `enabled` is false
/// (a setting the other settings make irrelevant).
pub fn text_field_when(
    id: impl Into<String>,
    label: &'static str,
    value: RwSignal<String>,
    size: u32,
    enabled: impl Fn() -> bool + Copy + Send + Sync + 'static,
    why_off: &'static str,
) -> impl IntoView {
    let id: String = id.into();
    view! {
        <label class="setting" class:off=move || !enabled() title=move || if enabled() { "" } else { why_off }>{label}" "
            <input id=id type="text" size=size prop:value=move || value.get() disabled=move || !enabled()
                on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

/// A labelled drop-down of `(value, text)` options bound to `value`.
pub fn select_field(
    id: impl Into<String>,
    label: &'static str,
    value: RwSignal<String>,
    options: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    let id: String = id.into();
    view! {
        <label class="setting">{label}" "
            <select id=id on:change=move |ev| value.set(event_target_value(&ev))>
                {options.iter().map(|(v, text)| view! {
                    <option value=*v selected=move || value.get() == *v>{*text}</option>
                }).collect_view()}
            </select>
        </label>
    }
}

/// The driver's own words about a GPU failure, folded away under the page's one-line account:
/// cubecl's error chains run to several lines a person rarely needs, but a bug report does.
pub fn gpu_report(failure: &GpuFailure) -> impl IntoView {
    view! {
        <details class="gpu-report">
            <summary>"What the GPU reported"</summary>
            <pre>{failure.message.clone()}</pre>
        </details>
    }
}
