//! The ambiguity table (workflow step 7, sortable, ten rows then more on demand) and the
//! confusion matrix (counts, row percentages, recall and precision); both select and mark
//! images in every other view.

use std::cmp::Ordering;

use leptos::prelude::*;

use super::ExploreState;
use crate::analysis::confusion::ConfusionMatrix;
use crate::analysis::predictions::by_ambiguity;
use crate::text_format::significant;

/// Rows shown at first, and added by "Show more".
const PAGE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Image,
    Ambiguity,
    Likeliest,
    Second,
    Truth,
}

const COLUMNS: [(Column, &str, &str); 5] = [
    (Column::Image, "image", "Image #"),
    (Column::Ambiguity, "ambiguity", "Ambiguity"),
    (Column::Likeliest, "likeliest", "Likeliest"),
    (Column::Second, "second", "Second"),
    (Column::Truth, "true", "True class"),
];

#[component]
pub fn AmbiguityTable() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    // Most ambiguous first, as in the workflow.
    let sort = RwSignal::new((Column::Ambiguity, true));
    let shown = RwSignal::new(PAGE);
    let order = Memo::new(move |_| {
        let Some(data) = state.data.get() else {
            return Vec::new();
        };
        let (column, descending) = sort.get();
        let mut order = by_ambiguity(&data.predictions);
        let p = &data.predictions;
        let names = &data.network_classes;
        let key = |a: usize, b: usize| -> Ordering {
            match column {
                Column::Image => a.cmp(&b),
                Column::Ambiguity => p[a].ambiguity.total_cmp(&p[b].ambiguity),
                Column::Likeliest => names[p[a].top2[0].0].cmp(&names[p[b].top2[0].0]),
                Column::Second => names[p[a].top2[1].0].cmp(&names[p[b].top2[1].0]),
                Column::Truth => data.classes[p[a].truth].cmp(&data.classes[p[b].truth]),
            }
        };
        // Stable: equal keys keep the ambiguity order.
        order.sort_by(|&a, &b| if descending { key(b, a) } else { key(a, b) });
        order
    });
    view! {
        <section id="ambiguity" class="explore-block">
            <h3>"Most ambiguous images"</h3>
            <p class="hint">"Ambiguity = second-largest ÷ largest class probability: 0 certain, 1 torn between two classes. Click a header to sort, a row to see the image."</p>
            <table id="ambiguity-table" class="ambiguity-table">
                <thead><tr>
                    {COLUMNS.iter().map(|&(column, key, title)| view! {
                        <th class="sortable" data-sort=key on:click=move |_| sort.update(|(c, d)| {
                            if *c == column { *d = !*d } else { *c = column; *d = column == Column::Ambiguity }
                        })>
                            {title}
                            {move || match sort.get() { (c, true) if c == column => " ▼", (c, false) if c == column => " ▲", _ => "" }}
                        </th>
                    }).collect_view()}
                    <th>"Image"</th>
                </tr></thead>
                <tbody>
                    {move || {
                        let data = state.data.get()?;
                        let selected = state.selected.get();
                        Some(order.get().into_iter().take(shown.get()).map(|k| {
                            let p = &data.predictions[k];
                            view! {
                                <tr class="ambiguity-row" class:selected=selected == Some(k) data-image=k + 1 on:click=move |_| state.select(k)>
                                    <td>{k + 1}</td>
                                    <td class="number">{significant(p.ambiguity, 5)}</td>
                                    <td>{data.network_classes[p.top2[0].0].clone()}</td>
                                    <td>{data.network_classes[p.top2[1].0].clone()}</td>
                                    <td>{data.classes[p.truth].clone()}</td>
                                    <td><img class="row-thumb" src=data.thumbnails[k].clone() alt="" /></td>
                                </tr>
                            }
                        }).collect_view())
                    }}
                </tbody>
            </table>
            <p>
                <button id="ambiguity-more" on:click=move |_| shown.update(|s| *s += PAGE)
                    disabled=move || { shown.get() >= order.with(Vec::len) }>"Show 10 more"</button>
                " "<span class="status">{move || format!("{} of {} images", shown.get().min(order.with(Vec::len)), order.with(Vec::len))}</span>
            </p>
        </section>
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{:.0} %", v * 100.0))
}

#[component]
pub fn ConfusionView() -> impl IntoView {
    let state = expect_context::<ExploreState>();
    move || {
        let data = state.data.get()?;
        let truth: Vec<usize> = data.predictions.iter().map(|p| p.truth).collect();
        let predicted: Vec<usize> = data.predictions.iter().map(|p| p.predicted).collect();
        let confusion =
            ConfusionMatrix::rectangular(data.classes.len(), data.network_classes.len(), &truth, &predicted);
        // A network with other classes: only the columns it used.
        let columns: Vec<usize> = if data.same_classes {
            (0..data.network_classes.len()).collect()
        } else {
            (0..data.network_classes.len()).filter(|&c| confusion.counts.iter().any(|row| row[c] > 0)).collect()
        };
        let same = data.same_classes;
        let accuracy = same.then(|| confusion.accuracy());
        let mark_cell = {
            let data = data.clone();
            move |t: usize, c: usize| {
                let found: Vec<usize> = (0..data.predictions.len())
                    .filter(|&k| data.predictions[k].truth == t && data.predictions[k].predicted == c)
                    .collect();
                let label = format!(
                    "{} image(s): true {}, predicted {}",
                    found.len(),
                    data.classes[t],
                    data.network_classes[c]
                );
                state.mark(found, label);
            }
        };
        Some(view! {
            <section id="explore-confusion-block" class="explore-block">
                <h3>"Confusion matrix"</h3>
                <p id="explore-accuracy">{match accuracy {
                    Some(a) => format!("Validation accuracy: {:.1} % ({} images)", a * 100.0, data.predictions.len()),
                    None => format!("The network predicts its own {} classes, not the data set's: no accuracy; rows are true classes, columns the network's classes it chose.", data.network_classes.len()),
                }}</p>
                <table id="explore-confusion" class="confusion">
                    <tr><th>"true \\ predicted"</th>
                        {columns.iter().map(|&c| view! { <th>{data.network_classes[c].clone()}</th> }).collect_view()}
                        {same.then(|| view! { <th>"recall"</th> })}
                    </tr>
                    {confusion.counts.iter().enumerate().map(|(t, row)| {
                        let total: usize = row.iter().sum();
                        let mark_cell = mark_cell.clone();
                        view! {
                            <tr><th>{data.classes[t].clone()}</th>
                                {columns.iter().map(|&c| {
                                    let mark_cell = mark_cell.clone();
                                    let share = if total > 0 { row[c] as f64 / total as f64 } else { 0.0 };
                                    let style = format!("background: rgba(0, 114, 178, {:.2})", share * 0.6);
                                    view! {
                                        <td class="cell" class:diagonal=same && t == c data-true=t data-pred=c style=style
                                            on:click=move |_| mark_cell(t, c)>
                                            {row[c]}<span class="share">{format!(" {:.0} %", share * 100.0)}</span>
                                        </td>
                                    }
                                }).collect_view()}
                                {same.then(|| view! { <td class="recall">{percent(confusion.recall(t))}</td> })}
                            </tr>
                        }
                    }).collect_view()}
                    {same.then(|| view! {
                        <tr><th>"precision"</th>
                            {columns.iter().map(|&c| view! { <td class="precision">{percent(confusion.precision(c))}</td> }).collect_view()}
                            <td></td>
                        </tr>
                    })}
                </table>
                <p class="hint">"Counts with each row's share; click a cell to mark its images in every map and list them beside the large map."</p>
            </section>
        })
    }
}
