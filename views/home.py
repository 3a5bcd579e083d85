"""Home: what the app is for and how to start, in three lines; then the lessons, one click each."""

import streamlit as st

from ui import lessons

st.title("SAE/NMF Explorer")
st.markdown(
    "Train **autoencoders, sparse autoencoders and NMF** on real data and watch their features form, live.  \n"
    "**1.** Pick a data set on **Data** (digits is ready to go).  \n"
    "**2.** Pick a model on **Train**, press **Train**, move the live knobs while it runs, and download the atoms."
)
start = st.container(horizontal=True)  # links as wide as their labels, whatever the screen's width
start.page_link("views/data.py", label="Choose data", icon=":material/dataset:")
start.page_link("views/train.py", label="Start training", icon=":material/model_training:")

st.subheader("Lessons")
st.caption("Classic results of the papers, each set up in one click: the data set, the model and its settings, "
           "and what to look for. Each picture is the lesson's outcome, drawn from a real run of it; a lesson "
           "whose data set needs a download shows a few of its samples instead, once it is downloaded.")
lessons.cards()
